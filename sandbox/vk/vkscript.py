"""A VKScript interpreter for the `execute` method (https://dev.vk.com/ru/method/execute).

Supported: `var`, assignment (also `+=`/`-=`/`*=`/`/=` and to members/indices), `if`/`else`, `while`, `return`,
`delete`, blocks, `//` and `/* */` comments; number/string/true/false/null literals, array and object literals,
arithmetic, comparison and logic operators, `+` for strings and arrays, member access, indexing, the `@.` field
filter, `.length`, `push/pop/shift/unshift/slice/splice/indexOf/substr/split`, `parseInt/parseDouble`, `Args.x`
and `API.section.method({...})` calls. Compile errors raise ScriptError(12), runtime errors ScriptError(13).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any


class ScriptError(Exception):
    def __init__(self, code: int, detail: str) -> None:
        self.code, self.detail = code, detail
        super().__init__(detail)


_TOKEN = re.compile(r"""
    (?P<skip>\s+|//[^\n]*|/\*.*?\*/)
  | (?P<num>\d+\.\d*|\.\d+|\d+)
  | (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<name>[A-Za-z_$][A-Za-z0-9_$]*)
  | (?P<op>@\.|==|!=|<=|>=|&&|\|\||\+=|-=|\*=|/=|[-+*/%<>=!{}()\[\],;:.])
""", re.S | re.X)
_ESC = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "/": "/", "\\": "\\", '"': '"', "'": "'"}
_KEYWORDS = {"var", "if", "else", "while", "return", "delete", "true", "false", "null", "undefined"}
MAX_STEPS = 200_000  # a guard against endless loops; VK stops long scripts with a runtime error too


def _unescape(body: str) -> str:
    def one(m: re.Match) -> str:
        return chr(int(m[1][1:], 16)) if len(m[1]) == 5 else _ESC.get(m[1], m[1])

    return re.sub(r"\\(u[0-9a-fA-F]{4}|.)", one, body, flags=re.S)


def _tokenize(code: str) -> list[tuple[str, Any]]:
    out, pos = [], 0
    while pos < len(code):
        m = _TOKEN.match(code, pos)
        if not m:
            raise ScriptError(12, f"unexpected symbol {code[pos]!r} at {pos}")
        pos = m.end()
        kind = m.lastgroup
        if kind == "num":
            out.append(("num", float(m[0]) if "." in m[0] else int(m[0])))
        elif kind == "str":
            out.append(("str", _unescape(m[0][1:-1])))
        elif kind == "name":
            out.append(("kw" if m[0] in _KEYWORDS else "name", m[0]))
        elif kind == "op":
            out.append(("op", m[0]))
    out.append(("eof", None))
    return out


class _Parser:
    def __init__(self, code: str) -> None:
        self.toks, self.i = _tokenize(code), 0

    def at(self, *values: str) -> bool:
        k, v = self.toks[self.i]
        return k in ("op", "kw") and v in values

    def take(self, *values: str):
        k, v = self.toks[self.i]
        if values and not (k in ("op", "kw") and v in values):
            raise ScriptError(12, f"expected {' or '.join(values)}, got {v!r}")
        self.i += 1
        return v

    def name(self) -> str:
        k, v = self.toks[self.i]
        if k != "name":
            raise ScriptError(12, f"expected a name, got {v!r}")
        self.i += 1
        return v

    # statements
    def program(self) -> list:
        body = []
        while self.toks[self.i][0] != "eof":
            body.append(self.statement())
        return body

    def block_or_statement(self) -> list:
        if self.at("{"):
            self.take("{")
            body = []
            while not self.at("}"):
                if self.toks[self.i][0] == "eof":
                    raise ScriptError(12, "unclosed block")
                body.append(self.statement())
            self.take("}")
            return body
        return [self.statement()]

    def end(self) -> None:
        if self.at(";"):
            self.take(";")

    def statement(self):
        if self.at(";"):
            self.take(";")
            return ("pass",)
        if self.at("{"):
            return ("block", self.block_or_statement())
        if self.at("var"):
            self.take("var")
            decls = []
            while True:
                name, value = self.name(), ("lit", None)
                if self.at("="):
                    self.take("=")
                    value = self.expr()
                decls.append((name, value))
                if not self.at(","):
                    break
                self.take(",")
            self.end()
            return ("var", decls)
        if self.at("if"):
            self.take("if"), self.take("(")
            cond = self.expr()
            self.take(")")
            then = self.block_or_statement()
            self.end()
            other = []
            if self.at("else"):
                self.take("else")
                other = self.block_or_statement()
                self.end()
            return ("if", cond, then, other)
        if self.at("while"):
            self.take("while"), self.take("(")
            cond = self.expr()
            self.take(")")
            body = self.block_or_statement()
            self.end()
            return ("while", cond, body)
        if self.at("return"):
            self.take("return")
            value = ("lit", None) if self.at(";", "}") else self.expr()
            self.end()
            return ("return", value)
        if self.at("delete"):
            self.take("delete")
            target = self.expr()
            self.end()
            return ("delete", target)
        target = self.expr()
        if self.at("=", "+=", "-=", "*=", "/="):
            op = self.take()
            if target[0] not in ("var", "get", "index"):
                raise ScriptError(12, "invalid assignment target")
            value = self.expr()
            self.end()
            return ("assign", target, op, value)
        self.end()
        return ("expr", target)

    # expressions, lowest precedence first
    _LEVELS = (("||",), ("&&",), ("==", "!="), ("<", ">", "<=", ">="), ("+", "-"), ("*", "/", "%"))

    def expr(self, level: int = 0):
        if level == len(self._LEVELS):
            return self.unary()
        left = self.expr(level + 1)
        while self.at(*self._LEVELS[level]):
            op = self.take()
            left = ("bin", op, left, self.expr(level + 1))
        return left

    def unary(self):
        if self.at("!", "-", "+"):
            op = self.take()
            return ("un", op, self.unary())
        return self.postfix(self.primary())

    def args(self) -> list:
        self.take("(")
        items = []
        while not self.at(")"):
            items.append(self.expr())
            if not self.at(")"):
                self.take(",")
        self.take(")")
        return items

    def postfix(self, node):
        while True:
            if self.at("."):
                self.take(".")
                field = self.toks[self.i][1]
                if self.toks[self.i][0] not in ("name", "kw"):
                    raise ScriptError(12, "expected a field name after '.'")
                self.i += 1
                node = ("mcall", node, field, self.args()) if self.at("(") else ("get", node, field)
            elif self.at("@."):
                self.take("@.")
                node = ("pluck", node, self.name())
            elif self.at("["):
                self.take("[")
                node = ("index", node, self.expr())
                self.take("]")
            elif self.at("(") and node[0] == "var":
                node = ("call", node[1], self.args())
            else:
                return node

    def primary(self):
        kind, value = self.toks[self.i]
        if kind in ("num", "str"):
            self.i += 1
            return ("lit", value)
        if kind == "kw" and value in ("true", "false", "null", "undefined"):
            self.i += 1
            return ("lit", {"true": True, "false": False}.get(value))
        if kind == "name":
            self.i += 1
            if value == "API":
                self.take(".")
                section = self.name()
                self.take(".")
                method = self.name()
                return ("api", f"{section}.{method}", self.args())
            return ("var", value)
        if self.at("("):
            self.take("(")
            node = self.expr()
            self.take(")")
            return node
        if self.at("["):
            self.take("[")
            items = []
            while not self.at("]"):
                items.append(self.expr())
                if not self.at("]"):
                    self.take(",")
            self.take("]")
            return ("array", items)
        if self.at("{"):
            self.take("{")
            props = []
            while not self.at("}"):
                k, key = self.toks[self.i]
                if k not in ("name", "str", "num", "kw"):
                    raise ScriptError(12, f"bad object key {key!r}")
                self.i += 1
                self.take(":")
                props.append((str(key), self.expr()))
                if not self.at("}"):
                    self.take(",")
            self.take("}")
            return ("object", props)
        raise ScriptError(12, f"unexpected {value!r}")


@functools.lru_cache(maxsize=512)
def compile_script(code: str) -> tuple:
    return tuple(_Parser(code).program())


class _Return(Exception):
    def __init__(self, value: Any) -> None:
        self.value = value


def _num(v: Any) -> float | int:
    if isinstance(v, bool) or v is None:
        return int(bool(v))
    if isinstance(v, (int, float)):
        return v
    if isinstance(v, str):
        try:
            return float(v) if re.search(r"[.eE]", v) else int(v.strip() or 0)
        except ValueError:
            raise ScriptError(13, f"can't convert {v!r} to a number") from None
    raise ScriptError(13, "can't use an object or array as a number")


def _norm(v: float | int) -> float | int:
    return int(v) if isinstance(v, float) and v.is_integer() and abs(v) < 2**53 else v


def _str(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        v = _norm(v)
    if isinstance(v, list):
        return ",".join(_str(x) for x in v)
    return str(v)


def _truthy(v: Any) -> bool:
    return not (v is None or v is False or v == "" or isinstance(v, (int, float)) and v == 0)


def _parse_int(v: Any) -> int | None:
    m = re.match(r"\s*[-+]?\d+", _str(v))
    return int(m[0]) if m else None


def _parse_double(v: Any) -> float | int | None:
    m = re.match(r"\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", _str(v))
    return _norm(float(m[0])) if m else None


class Interpreter:
    def __init__(self, api: Callable[[str, dict], Any], args: dict[str, Any]) -> None:
        self.api, self.env, self.steps = api, {"Args": args}, 0

    def run(self, code: str) -> Any:
        try:
            self.block(compile_script(code))
        except _Return as r:
            return r.value
        except RecursionError:
            raise ScriptError(13, "expression is too deep") from None
        return None

    def tick(self) -> None:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise ScriptError(13, "too many operations")

    def block(self, body) -> None:
        for stmt in body:
            self.statement(stmt)

    def statement(self, s) -> None:
        self.tick()
        kind = s[0]
        if kind == "var":
            for name, value in s[1]:
                self.env[name] = self.eval(value)
        elif kind == "assign":
            _, target, op, value = s
            new = self.eval(value)
            if op != "=":
                new = self.binary(op[0], self.eval(target), new)
            self.store(target, new)
        elif kind == "if":
            self.block(s[2] if _truthy(self.eval(s[1])) else s[3])
        elif kind == "while":
            while _truthy(self.eval(s[1])):
                self.tick()
                self.block(s[2])
        elif kind == "return":
            raise _Return(self.eval(s[1]))
        elif kind == "delete":
            target = s[1]
            if target[0] in ("get", "index"):
                obj = self.eval(target[1])
                key = target[2] if target[0] == "get" else self.eval(target[2])
                if isinstance(obj, dict):
                    obj.pop(_str(key), None)
                elif isinstance(obj, list) and isinstance(key, int) and 0 <= key < len(obj):
                    obj[key] = None
        elif kind == "block":
            self.block(s[1])
        elif kind == "expr":
            self.eval(s[1])

    def store(self, target, value) -> None:
        if target[0] == "var":
            self.env[target[1]] = value
            return
        obj = self.eval(target[1])
        key = target[2] if target[0] == "get" else self.eval(target[2])
        if isinstance(obj, dict):
            obj[_str(key)] = value
        elif isinstance(obj, list) and isinstance(key, int) and key >= 0:
            obj.extend([None] * (key + 1 - len(obj)))
            obj[key] = value
        else:
            raise ScriptError(13, "can't assign a field of a non-object")

    def eval(self, n) -> Any:
        kind = n[0]
        if kind == "lit":
            return n[1]
        if kind == "var":
            if n[1] not in self.env:
                raise ScriptError(13, f"{n[1]} is not defined")
            return self.env[n[1]]
        if kind == "array":
            return [self.eval(x) for x in n[1]]
        if kind == "object":
            return {k: self.eval(v) for k, v in n[1]}
        if kind == "bin":
            op = n[1]
            if op == "&&":
                left = self.eval(n[2])
                return self.eval(n[3]) if _truthy(left) else left
            if op == "||":
                left = self.eval(n[2])
                return left if _truthy(left) else self.eval(n[3])
            return self.binary(op, self.eval(n[2]), self.eval(n[3]))
        if kind == "un":
            v = self.eval(n[2])
            return not _truthy(v) if n[1] == "!" else _norm(-_num(v)) if n[1] == "-" else _num(v)
        if kind == "get":
            return self.member(self.eval(n[1]), n[2])
        if kind == "index":
            obj, key = self.eval(n[1]), self.eval(n[2])
            if isinstance(obj, (list, str)) and isinstance(key, (int, float)) and not isinstance(key, bool):
                k = int(key)
                return obj[k] if 0 <= k < len(obj) else None
            return obj.get(_str(key)) if isinstance(obj, dict) else None
        if kind == "pluck":
            obj = self.eval(n[1])
            if isinstance(obj, dict):
                obj = obj.get("items", [])
            return [x.get(n[2]) if isinstance(x, dict) else None for x in obj] if isinstance(obj, list) else None
        if kind == "mcall":
            return self.method(self.eval(n[1]), n[2], [self.eval(a) for a in n[3]])
        if kind == "call":
            args = [self.eval(a) for a in n[2]]
            if n[1] == "parseInt":
                return _parse_int(args[0] if args else None)
            if n[1] == "parseDouble":
                return _parse_double(args[0] if args else None)
            raise ScriptError(13, f"{n[1]} is not a function")
        if kind == "api":
            args = [self.eval(a) for a in n[2]]
            params = args[0] if args else {}
            if not isinstance(params, dict):
                raise ScriptError(13, f"API.{n[1]} expects an object of parameters")
            return self.api(n[1], params)
        raise ScriptError(13, f"unknown node {kind}")

    @staticmethod
    def member(obj: Any, field: str) -> Any:
        if field == "length" and isinstance(obj, (list, str)):
            return len(obj)
        return obj.get(field) if isinstance(obj, dict) else None

    @staticmethod
    def binary(op: str, a: Any, b: Any) -> Any:
        if op == "+":
            if isinstance(a, list) and isinstance(b, list):
                return a + b
            if isinstance(a, str) or isinstance(b, str):
                return _str(a) + _str(b)
            return _norm(_num(a) + _num(b))
        if op in ("-", "*", "/", "%"):
            x, y = _num(a), _num(b)
            if op in ("/", "%") and y == 0:
                raise ScriptError(13, "division by zero")
            return _norm({"-": lambda: x - y, "*": lambda: x * y, "/": lambda: x / y,
                          "%": lambda: x - y * int(x / y)}[op]())
        if op in ("==", "!="):
            if isinstance(a, (int, float)) and isinstance(b, str) or isinstance(a, str) and isinstance(b, (int, float)):
                try:
                    same = _num(a) == _num(b)
                except ScriptError:
                    same = False
            else:
                same = a == b
            return same if op == "==" else not same
        if isinstance(a, str) and isinstance(b, str):
            x, y = a, b
        else:
            x, y = _num(a), _num(b)
        return {"<": x < y, ">": x > y, "<=": x <= y, ">=": x >= y}[op]

    @staticmethod
    def method(obj: Any, name: str, args: list) -> Any:
        arg = lambda k, d=None: args[k] if len(args) > k else d  # noqa: E731
        if isinstance(obj, list):
            if name == "push":
                obj.extend(args)
                return len(obj)
            if name == "pop":
                return obj.pop() if obj else None
            if name == "shift":
                return obj.pop(0) if obj else None
            if name == "unshift":
                obj[:0] = args
                return len(obj)
            if name == "slice":
                start, stop = int(_num(arg(0, 0))), arg(1)
                return obj[start: None if stop is None else int(_num(stop))]
            if name == "splice":
                start = int(_num(arg(0, 0)))
                start = max(0, len(obj) + start) if start < 0 else start
                count = len(obj) - start if arg(1) is None else int(_num(arg(1)))
                removed = obj[start:start + count]
                obj[start:start + count] = args[2:]
                return removed
            if name == "indexOf":
                return next((k for k, x in enumerate(obj) if x == arg(0)), -1)
        if isinstance(obj, str):
            if name == "substr":
                start = int(_num(arg(0, 0)))
                start = max(0, len(obj) + start) if start < 0 else start
                return obj[start:] if arg(1) is None else obj[start:start + int(_num(arg(1)))]
            if name == "split":
                sep = arg(0)
                return list(obj) if sep == "" else obj.split(_str(sep)) if sep is not None else [obj]
            if name == "indexOf":
                return obj.find(_str(arg(0)))
        raise ScriptError(13, f"{name} is not a method of {type(obj).__name__}")


def run(code: str, api: Callable[[str, dict], Any], args: dict[str, Any] | None = None) -> Any:
    """Execute VKScript; `api(method, params)` performs one API call and returns its response (or False)."""
    return Interpreter(api, args or {}).run(code)
