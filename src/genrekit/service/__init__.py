"""The REST service: ``create_app(settings, classifier)`` builds the FastAPI app.

See :mod:`genrekit.service.main`. Configuration comes from :class:`Settings`
(``GENREKIT_*`` environment variables).
"""

from genrekit.service.config import Settings
from genrekit.service.main import create_app

__all__ = ["Settings", "create_app"]
