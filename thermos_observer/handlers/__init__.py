"""HTTP handlers: `api` (JSON under /j/ and /files/), `pages` (HTML), and the shared `base`."""
