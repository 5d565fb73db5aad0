"""All pages live on one blueprint; importing the area modules registers their routes."""
from services.webui.common import bp  # noqa: F401
from services.webui import (  # noqa: F401,E402  (route registration)
    amendments, auth, home, programs, reports, requests, workflow_pages,
)
