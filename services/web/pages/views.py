"""All pages live on one blueprint; importing the area modules registers their routes."""
from services.web.pages.common import bp  # noqa: F401
from services.web.pages import (  # noqa: F401,E402  (route registration)
    amendments, auth, home, programs, reports, requests, workflow_pages,
)
