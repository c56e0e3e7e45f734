"""Who may do what: API keys and roles, the per-client rate limit, security headers and CORS.

``control`` holds the access middleware and role checks, ``keys`` the API keys (also used by
``genrekit keys``), ``ratelimit`` the requests per minute, ``security`` the response headers.
"""
