"""Running the app: the address, the token, uvicorn."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path

from cluster_toolkit.errors import UsageError
from cluster_toolkit.serve.app import is_loopback


def token_for(host: str, token: str | None) -> str | None:
    """The write token: the one given; a new random one when ``host`` is not a loopback address (anyone who
    can reach the server could otherwise save playlists into the library); None on loopback."""
    if token is not None:
        if len(token) < 16:
            raise UsageError("--token must be at least 16 characters")
        return token
    return None if is_loopback(host) else secrets.token_urlsafe(24)


def serve(library: str | Path, *, host: str = "127.0.0.1", port: int = 8765, token: str | None = None,
          music_root: str | Path | None = None, playlists_dir: str | Path | None = None,
          ready: Callable[[str, object], None] | None = None) -> None:
    """Load the library and serve it until interrupted; ``ready(url, served_library)`` is called once the
    library is loaded, before the server starts listening."""
    import uvicorn

    from cluster_toolkit.serve.app import create_app
    from cluster_toolkit.serve.state import ServedLibrary

    token = token_for(host, token)
    served = ServedLibrary(library, music_root=music_root, playlists_dir=playlists_dir)
    loopback_names = ["127.0.0.1", "localhost", "::1", "[::1]", host]
    app = create_app(served, token=token, hosts=loopback_names if is_loopback(host) else None)
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}/" + (f"#token={token}" if token else "")
    if ready is not None:
        ready(url, served)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
