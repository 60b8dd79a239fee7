"""Channels: the ways letters come in (IMAP, SMTP/LMTP, hot folder, importer) and ``receive``, the one
way in they share. A channel is given what to do with a new envelope (enqueue or run inline) as a parameter."""
