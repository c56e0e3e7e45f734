"""One module per resource, each holding one ``APIRouter(prefix, tags)``."""
