"""The local JSON API (FastAPI), served by `keyfolio serve`."""
