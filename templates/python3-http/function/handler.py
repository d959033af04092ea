import json
import os


def handle(event, context):
    """event.body (bytes), .headers, .method, .query, .path; return a body or a dict."""
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(
            {
                "message": "Hello from python3-http",
                "method": event.method,
                "path": event.path,
                "body": event.body.decode("utf-8", errors="replace"),
                # Which worker of the pool answered.
                "worker": os.getpid(),
            }
        ),
    }
