"""HTTP API (and later the web pages): a thin shell over intake, storage and queues."""
