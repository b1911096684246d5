"""A deliberately broken implementation of both APIs, for proving the kit fails it.

It gets the basics right (a token, tracking headers, 404 envelopes for what it does not
know) so the failures it causes are the ones planted here:
- GET /bc/v1/devices answers a list of the wrong shape for IN-HEADER;
- POST /bc/v1/devices/{deviceId} answers 200 and changes nothing, so the status never
  shows a control;
- GET /bc/v1/push answers 500;
- POST /v2/devices/status-async answers 200 instead of the documented 202;
- POST /bc/v1/dr/users answers 501 Not Implemented.
"""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJicm9rZW4ifQ.c2lnbmF0dXJl"
DEVICE = "0" * 64
PROFILE = {
    "property": {
        "powerSave": {
            "powerSaveEnabled": {
                "type": "boolean",
                "mode": ["r", "w"],
                "value": {"r": [True, False], "w": [True, False]},
            }
        }
    }
}


def _answer(body: Any, status: int = 200, message_id: str = "") -> Response:
    headers = {
        "X-Request-Id": base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("="),
        "X-Response-Code": "0000" if status < 400 else str(4000 + status % 100),
        "X-Message-Id": message_id,
    }
    return Response(json.dumps(body), status, headers, media_type="application/json")


def _envelope(request: Request, response: Any) -> Response:
    message_id = request.headers.get("x-message-id", "")
    return _answer(
        {"messageId": message_id, "timestamp": "2026-01-01T00:00:00", "response": response},
        message_id=message_id,
    )


async def token(request: Request) -> Response:
    return _answer({"access_token": TOKEN})


async def devices(request: Request) -> Response:
    if request.headers.get("x-use-account") == "IN-HEADER":
        return _answer({"devices": "not a list", "response": "nope"})  # wrong shape
    return _envelope(
        request,
        [
            {
                "deviceId": DEVICE,
                "deviceInfo": {
                    "deviceType": "DEVICE_AIR_CONDITIONER",
                    "modelName": "X",
                    "alias": "x",
                    "reportable": True,
                },
            }
        ],
    )


async def status(request: Request) -> Response:
    if request.method == "POST":
        return _envelope(request, {})  # accepted, and forgotten
    return _envelope(request, {"powerSave": {"powerSaveEnabled": True}})


async def subscriptions(request: Request) -> Response:
    return Response("boom", 500)


async def profile(request: Request) -> Response:
    return _envelope(request, PROFILE)


async def status_async(request: Request) -> Response:
    return _answer(
        {
            "messageId": "x",
            "requestId": "y",
            "response": {},
            "responseCode": "0000",
            "statusCode": 200,
            "timestamp": "t",
        }
    )


async def not_implemented(request: Request) -> Response:
    return _answer({"code": 5000, "message": "Not implemented"}, 501)


async def not_found(request: Request) -> Response:
    if request.url.path.startswith("/v2/"):
        body = {
            "messageId": "",
            "response": {"error": {"code": "1000", "message": "no"}},
            "responseCode": "1000",
            "statusCode": 404,
            "timestamp": "t",
        }
    elif "/dr/" in request.url.path:
        body = {"code": 4304, "message": "Resource Not Found"}
    else:
        body = {
            "messageId": "",
            "timestamp": "t",
            "error": {"code": "4304", "message": "Resource Not Found"},
        }
    return _answer(body, 404)


METHODS = ["GET", "POST", "DELETE", "PATCH", "PUT"]
app = Starlette(
    routes=[
        Route("/bc/v1/token", token, methods=["POST"]),
        Route("/bc/v1/devices", devices, methods=["GET"]),
        Route("/bc/v1/devices/profile/{device_id}", profile, methods=["GET"]),
        Route("/bc/v1/devices/{device_id}", status, methods=["GET", "POST"]),
        Route("/bc/v1/push", subscriptions, methods=["GET"]),
        Route("/bc/v1/push/{device_id}", status, methods=["POST", "DELETE"]),
        Route("/v2/devices/status-async", status_async, methods=["POST"]),
        Route("/bc/v1/dr/users", not_implemented, methods=["POST"]),
        Route("/{path:path}", not_found, methods=METHODS),
    ]
)
