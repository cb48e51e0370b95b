"""VM metrics: the statistics batches hosts upload, read back as one VM's series, and live sampling."""
