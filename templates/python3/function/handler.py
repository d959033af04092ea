def handle(req):
    """req is the request body; the return value is the response body."""
    return "Hello from python3: " + req
