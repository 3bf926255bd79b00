"""The web app as an ASGI app: Streamlit's app.py plus moodlab's login-cookie routes,
behind moodlab's checks on every request (docs/security.md).

`moodlab serve` runs `streamlit run asgi.py` (through moodlab/ui/launch.py), which
finds ``app`` below and serves it with uvicorn (moodlab/ui/web.py says why the routes
are needed).
"""

import streamlit as st
from starlette.middleware import Middleware
from streamlit.runtime.pages_manager import PagesManager

from moodlab.core.config import Settings
from moodlab.ui import files
from moodlab.ui.connections import WebsocketCap
from moodlab.ui.hosts import HostCheck, HostPolicy
from moodlab.ui.uploads import UploadGate
from moodlab.ui.web import ROUTES

# app.py builds its navigation with st.navigation. Until a script has called it once,
# Streamlit treats the pages/ folder beside app.py as old-style multipage pages: the
# first visitor of a fresh server who opens /training would run pages/training.py on
# its own, without app.py. Each page guards itself (it shows a logged-out visitor only
# the login form), but the old mode also lists every page in the sidebar: so this second
# guard clears the flag before any visitor arrives, as st.navigation would. The flag is
# Streamlit's private attribute; tests/test_pages_guard.py fails if it is renamed.
PagesManager.uses_pages_directory = False

settings = Settings.from_env()
# Outermost first: a request for another Host is refused before anything else.
MIDDLEWARE = [
    Middleware(HostCheck, policy=HostPolicy.from_settings(settings)),
    Middleware(WebsocketCap, per_address=settings.websockets_per_address),
    Middleware(UploadGate),
]

app = st.App("app.py", routes=ROUTES + files.ROUTES, middleware=MIDDLEWARE)
