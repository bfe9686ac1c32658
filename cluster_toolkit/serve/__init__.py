"""``ctk serve``: a local web app to search the library, hear similar tracks, explore the map and build
playlists. :func:`create_app` builds the app (FastAPI); :func:`serve` runs it with uvicorn.

FastAPI, uvicorn and rapidfuzz are the optional extra ``ctk[serve]``; nothing else in ctk imports this
package.
"""

from cluster_toolkit.serve.app import create_app
from cluster_toolkit.serve.server import serve, token_for

__all__ = ["create_app", "serve", "token_for"]
