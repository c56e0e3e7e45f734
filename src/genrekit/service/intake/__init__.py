"""Audio coming in: a ``POST /classify`` body (an upload, raw bytes or a link) spooled to a file.

``submission`` reads the request body in any accepted form, ``uploads`` streams it to a temporary
file under the size limit, ``fetch`` downloads a link with the server-side request forgery guard.
"""
