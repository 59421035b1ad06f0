"""Request body parsers: JSON bodies get the same limits as websocket frames."""

from rest_framework import parsers
from rest_framework.exceptions import ParseError

from ..inputs import parse_json


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser through `inputs.parse_json`, so a body nested too deeply or
    holding NaN is a 400 `malformed_json` instead of a 500 later on."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = parsers.get_encoding(parser_context or {})
        try:
            return parse_json(stream.read().decode(encoding))
        except ValueError as exc:  # UnicodeDecodeError included
            raise ParseError(f"JSON parse error - {exc}") from None
