"""A FastAPI origin behind keygate_verify's ASGI middleware, under uvicorn."""

import sys

import uvicorn
from fastapi import FastAPI, Request

from common import VERIFIERS, answer
from keygate_verify.asgi import KeygateASGIMiddleware, scope_target

app = FastAPI()


@app.api_route("/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
async def anything(request: Request, rest: str):
    headers = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in request.scope["headers"]]
    body = await request.body()
    return answer("fastapi", request.state.keygate, scope_target(request.scope), headers, body)


verified_apps = {name: KeygateASGIMiddleware(app, secrets=secrets) for name, secrets in VERIFIERS.items()}


async def dispatch(scope, receive, send):
    """Test plumbing: the X-Test-Verifier header picks which secrets verify this request."""
    if scope["type"] == "lifespan":
        return await app(scope, receive, send)
    chosen = dict(scope.get("headers", [])).get(b"x-test-verifier", b"a").decode()
    return await verified_apps[chosen](scope, receive, send)


if __name__ == "__main__":
    uvicorn.run(dispatch, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", lifespan="off")
