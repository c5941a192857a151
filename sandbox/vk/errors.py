"""VK API errors as the sandbox returns them: {"error": {"error_code", "error_msg", "request_params"}}."""

from __future__ import annotations

# Global error codes and texts: https://dev.vk.com/ru/reference/errors
# Method-specific ones are cited on their own line.
MESSAGES = {
    1: "Unknown error occurred",
    3: "Unknown method passed",
    5: "User authorization failed",
    6: "Too many requests per second",
    7: "Permission to perform this action is denied",
    8: "Invalid request",
    9: "Flood control",
    10: "Internal server error",
    12: "Unable to compile code",
    13: "Runtime error occurred during code invocation",
    14: "Captcha needed",
    15: "Access denied",
    29: "Rate limit reached",
    100: "One of the parameters specified was missing or invalid",
    121: "Invalid hash",  # photos.saveMessagesPhoto: https://dev.vk.com/ru/method/photos.saveMessagesPhoto
    901: "Can't send messages for users without permission",  # https://dev.vk.com/ru/method/messages.send
    909: "Can't edit this message, because it's too old",  # https://dev.vk.com/ru/method/messages.edit
    914: "Message is too long",  # https://dev.vk.com/ru/method/messages.send
    924: "Can't delete this message for everybody",  # https://dev.vk.com/ru/method/messages.delete
}


class VKError(Exception):
    def __init__(self, code: int, detail: str | None = None, **extra: object) -> None:
        self.code = code
        self.msg = MESSAGES.get(code, MESSAGES[1]) + (f": {detail}" if detail else "")
        self.extra = extra
        super().__init__(self.msg)

    def payload(self, method: str, params: dict[str, str]) -> dict:
        shown = [{"key": "method", "value": method}, {"key": "oauth", "value": "1"}]
        shown += [{"key": k, "value": v} for k, v in params.items() if k != "access_token"]
        return {"error": {"error_code": self.code, "error_msg": self.msg, "request_params": shown, **self.extra}}


def bad_param(name: str, why: str = "is undefined") -> VKError:
    return VKError(100, f"{name} {why}")
