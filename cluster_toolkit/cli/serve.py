"""``ctk serve``: the library as a local web app (search, similar tracks, map, playlists)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cluster_toolkit.cli._common import DEFAULT_LIBRARY, LibraryOption, console, err_console, notice
from cluster_toolkit.errors import UsageError


def serve_cli(
    library: LibraryOption = DEFAULT_LIBRARY,
    host: Annotated[str, typer.Option(help="Address to listen on; another than 127.0.0.1 lets other machines "
                                           "in (saving then needs a token).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port.")] = 8765,
    music_root: Annotated[Path | None, typer.Option("--music-root", file_okay=False,
                                                    help="Folder audio is played from (default: the folder "
                                                         "holding every track).")] = None,
    playlists_dir: Annotated[Path | None, typer.Option("--playlists-dir", file_okay=False,
                                                       help="Where saved M3U8 files go (default: "
                                                            "MUSIC_ROOT/Playlists).")] = None,
    token: Annotated[str | None, typer.Option(envvar="CTK_SERVE_TOKEN", help="Token that saving needs (made "
                                              "up when --host is not a loopback address).",
                                              show_default=False)] = None,
    open_browser: Annotated[bool, typer.Option("--open", help="Open the page in the web browser.")] = False,
) -> None:
    """Serve the library as a web app: search, similar tracks with the fragment that matched, the map,
    playlists from a selection."""
    try:
        from cluster_toolkit.serve import serve
    except ImportError as exc:
        raise UsageError(f"ctk serve needs the web extra ({exc.name} is not installed): pip install 'ctk[serve]'") \
            from exc

    def ready(url: str, served) -> None:
        console.print(f"{len(served.library)} tracks loaded in {served.load_seconds:.1f} s; serving {url} "
                      "(Ctrl-C stops)", highlight=False, soft_wrap=True)
        if not served.music.tracks:
            notice(f"no track file lies inside {served.music.root}: nothing can be played (give --music-root)")
        if served.map.coords is None:
            err_console.print("the map is being computed in the background (UMAP; cached for next time)")
        if open_browser:
            import webbrowser

            webbrowser.open(url)

    serve(library, host=host, port=port, token=token, music_root=music_root, playlists_dir=playlists_dir,
          ready=ready)
