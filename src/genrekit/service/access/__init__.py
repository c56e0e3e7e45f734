"""Who may do what: the access middleware and roles, API keys, security headers and CORS.

``control`` decides who is calling and what they may do, ``keys`` holds the API keys (also
used by ``genrekit keys``), ``security`` sets the response headers and the CORS policy.
"""
