"""Infrastructure: the template, and the local stack that runs it on one machine."""
