// Entry point: mount the app on #app.

import { render } from 'preact';
import { api } from './api';
import { App } from './components/App';
import { sessionStore } from './state/session';
import './styles.css';

const root = document.getElementById('app');
if (root) render(<App api={api} session={sessionStore} />, root);
