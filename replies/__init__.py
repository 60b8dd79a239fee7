"""Outbound letters: acknowledgements of receipt, replies, requests to complete and extension notices,
sent by e-mail (an SMTP relay) or by post (a printed PDF in the daily post batch).

A domain package between the pipeline and queues/intake: it imports queues (the clocks a dispatch stops),
storage and ground, never the pipeline, the channels or the web app.

- ``letter``: the typed records a letter is rendered from (``LetterContent``, ``Sender``, ``PostalAddress``).
- ``pdf``: HTML/CSS → PDF/A with WeasyPrint, the address in the window of a DL envelope (DIN 5008 form B);
  ``batch``: the daily post batch (one duplex-aware PDF to print and the posting list of registered mail).
- ``email_out``: the MIME message of a reply (threaded, a fixed Message-ID) and its delivery to the relay.
- ``service``: outbound letters as records: draft → approved → queued → sent/posted → delivered,
  bounced or returned, each step an audit event; dispatch stops the statutory clock as configured.
"""
