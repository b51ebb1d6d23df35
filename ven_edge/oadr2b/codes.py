"""OpenADR 2.0b response codes (Profile Specification §8.2 and conformance rules cited)."""

from __future__ import annotations

from enum import IntEnum


class ResponseCode(IntEnum):
    OK = 200
    BAD_REQUEST = 400
    OUT_OF_SEQUENCE = 450  # lower modificationNumber than the one known (rule 58)
    NOT_ALLOWED = 451
    INVALID_ID = 452  # unexpected venID/vtnID/eventID (rules 21, 33)
    NOT_RECOGNIZED = 453
    INVALID_DATA = 454  # a value the VEN cannot use (NaN payload, out-of-range time)
    COMPLIANCE_ERROR = 459  # missing element or wrong type (rule 33)
    SIGNAL_NOT_SUPPORTED = 460  # unsupported signalName/signalType/unit (rules 48, 109)
    REPORT_NOT_SUPPORTED = 461
    TARGET_MISMATCH = 462  # non-matching market context or target (rule 48)
    NOT_REGISTERED_OR_AUTHORIZED = 463
    OTHER_ERROR = 469
