"""Storage: the database (record of truth) and the content-addressed blob store."""
