"""The HTTP API and the server-rendered pages (web/pages/): a thin shell over intake, storage and queues."""
