"""Ground floor of Mailroom: settings, typed records, errors and logging. Imports nothing of ours."""
