"""A small ClickHouse SQL dialect on pySigma's text-query base, for the shipped huggingface_logs table.

Each rule becomes one SELECT on `huggingface_logs` in the current database. Plain values compare
exactly (as keyword fields do in Elasticsearch and OpenSearch); values with wildcards use ILIKE,
case-insensitive as Sigma wants. `tags.<key>` and `actor.<key>` read the Map columns. A correlation
counts per group over a sliding window (a window function over the time-ordered events of each group)
and returns one row per group that crosses the threshold.
"""

from __future__ import annotations

import textwrap
from typing import Any, ClassVar

from sigma.conditions import ConditionAND, ConditionFieldEqualsValueExpression, ConditionItem, ConditionNOT, ConditionOR
from sigma.conversion.base import TextQueryBackend
from sigma.conversion.state import ConversionState
from sigma.correlations import SigmaCorrelationCondition, SigmaCorrelationConditionOperator, SigmaCorrelationRule
from sigma.exceptions import SigmaFeatureNotSupportedByBackendError
from sigma.rule import SigmaRule
from sigma.types import (
    CompareOperators,
    SigmaCompareExpression,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SpecialChars,
)

from .fields import ARRAY_COLUMNS, SELECTABLE_COLUMNS, map_key

TABLE = "huggingface_logs"
# What a matching event row shows: enough to triage without opening rawLog.
EVENT_COLUMNS = ("eventID", "eventTime", "eventName", "authorUser", "srcIP", "locationCountry", "message")
_OPERATORS = {
    SigmaCorrelationConditionOperator.LT: "<",
    SigmaCorrelationConditionOperator.LTE: "<=",
    SigmaCorrelationConditionOperator.GT: ">",
    SigmaCorrelationConditionOperator.GTE: ">=",
    SigmaCorrelationConditionOperator.EQ: "=",
    SigmaCorrelationConditionOperator.NEQ: "!=",
}


def sql_string(text: str) -> str:
    """A ClickHouse string literal: backslash and single quote escaped with a backslash."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def like_pattern(value: SigmaString) -> str:
    """The LIKE pattern of a Sigma string: its wildcards as % and _, literal %, _ and \\ escaped."""
    parts: list[str] = []
    for part in value.s:
        if part == SpecialChars.WILDCARD_MULTI:
            parts.append("%")
        elif part == SpecialChars.WILDCARD_SINGLE:
            parts.append("_")
        elif isinstance(part, str):
            parts.append(part.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_"))
        else:
            raise SigmaFeatureNotSupportedByBackendError(f"unresolved placeholder in {value}")
    return "".join(parts)


def plain_text(value: SigmaString) -> str:
    """The text of a Sigma string without wildcards."""
    return "".join(part for part in value.s if isinstance(part, str))



def _plain_condition(rule: SigmaCorrelationRule) -> SigmaCorrelationCondition:
    """The rule's `condition: {gte: N}`; pySigma's extended (boolean) correlation conditions are not supported."""
    if not isinstance(rule.condition, SigmaCorrelationCondition):
        raise SigmaFeatureNotSupportedByBackendError("extended correlation conditions are not supported for ClickHouse")
    return rule.condition


def _string_value(cond: ConditionFieldEqualsValueExpression) -> SigmaString:
    """The value of a string condition (pySigma calls the string converters only for strings)."""
    if not isinstance(cond.value, SigmaString):
        raise SigmaFeatureNotSupportedByBackendError(f"{cond.field}: a string condition whose value is not a string")
    return cond.value

class ClickHouseBackend(TextQueryBackend):
    """hf-audit's ClickHouse dialect (pySigma-backend-clickhouse needs Python 3.13)."""

    name: ClassVar[str] = "hf-audit ClickHouse"
    identifier: ClassVar[str] = "hf_audit_clickhouse"
    formats: ClassVar[dict[str, str]] = {"default": "One ClickHouse SELECT per rule on the huggingface_logs table"}
    requires_pipeline: ClassVar[bool] = False

    precedence: ClassVar[tuple[type[ConditionItem], type[ConditionItem], type[ConditionItem]]] = (
        ConditionNOT,
        ConditionAND,
        ConditionOR,
    )
    group_expression: ClassVar[str] = "({expr})"
    token_separator: str = " "
    or_token: ClassVar[str] = "OR"
    and_token: ClassVar[str] = "AND"
    not_token: ClassVar[str] = "NOT"
    eq_token: ClassVar[str] = " = "
    str_quote: ClassVar[str] = "'"
    escape_char: ClassVar[str] = "\\"
    wildcard_multi: ClassVar[str] = "%"
    wildcard_single: ClassVar[str] = "_"
    bool_values: ClassVar[dict[bool, str | None]] = {True: "true", False: "false"}
    field_null_expression: ClassVar[str] = "empty({field})"
    field_exists_expression: ClassVar[str] = "notEmpty({field})"
    field_not_exists_expression: ClassVar[str] = "empty({field})"
    cidr_expression: ClassVar[str] = "isIPAddressInRange({field}, '{value}')"
    compare_op_expression: ClassVar[str] = "{field} {operator} {value}"
    compare_operators: ClassVar[dict[CompareOperators, str] | None] = {
        SigmaCompareExpression.CompareOperators.LT: "<",
        SigmaCompareExpression.CompareOperators.LTE: "<=",
        SigmaCompareExpression.CompareOperators.GT: ">",
        SigmaCompareExpression.CompareOperators.GTE: ">=",
    }
    field_equals_field_expression: ClassVar[str] = "{field1} = {field2}"
    convert_or_as_in: ClassVar[bool] = True
    convert_and_as_in: ClassVar[bool] = False
    in_expressions_allow_wildcards: ClassVar[bool] = False
    field_in_list_expression: ClassVar[str] = "{field} {op} ({list})"
    or_in_operator: ClassVar[str] = "IN"
    list_separator: ClassVar[str] = ", "
    unbound_value_str_expression: ClassVar[str] = "positionCaseInsensitiveUTF8(rawLog, {value}) > 0"
    unbound_value_num_expression: ClassVar[str] = "positionCaseInsensitiveUTF8(rawLog, '{value}') > 0"

    correlation_methods: ClassVar[dict[str, str]] = {
        "default": "GROUP BY the group-by columns, HAVING the threshold, over a sliding time window"
    }

    # --- fields and values --------------------------------------------------------------------------

    def escape_and_quote_field(self, field_name: str) -> str:
        if field_name in SELECTABLE_COLUMNS:
            return field_name
        if found := map_key(field_name):
            column, key = found
            return f"{column}[{sql_string(key)}]"
        raise SigmaFeatureNotSupportedByBackendError(f"{field_name} is not a column of {TABLE} (nor a tags./actor. key)")

    def convert_value_str(self, s: SigmaString, state: ConversionState) -> str:
        if s.contains_special():
            return sql_string(like_pattern(s))
        return sql_string(plain_text(s))

    def convert_condition_field_eq_val_str(self, cond: ConditionFieldEqualsValueExpression, state: ConversionState) -> str:
        field = self.escape_and_quote_field(cond.field)
        value = _string_value(cond)
        if cond.field in ARRAY_COLUMNS:
            if value.contains_special():
                return f"arrayExists(element -> element ILIKE {sql_string(like_pattern(value))}, {field})"
            return f"has({field}, {sql_string(plain_text(value))})"
        if value.contains_special():
            return f"{field} ILIKE {sql_string(like_pattern(value))}"
        return f"{field} = {sql_string(plain_text(value))}"

    def convert_condition_field_eq_val_str_case_sensitive(self, cond: ConditionFieldEqualsValueExpression, state: ConversionState) -> str:
        field = self.escape_and_quote_field(cond.field)
        value = _string_value(cond)
        if value.contains_special():
            return f"{field} LIKE {sql_string(like_pattern(value))}"
        return f"{field} = {sql_string(plain_text(value))}"

    def convert_condition_field_eq_val_re(self, cond: ConditionFieldEqualsValueExpression, state: ConversionState) -> str:
        regex = cond.value
        if not isinstance(regex, SigmaRegularExpression):
            raise SigmaFeatureNotSupportedByBackendError(f"{cond.field}: a regex condition without a regular expression")
        flags = "".join(
            letter
            for flag, letter in (
                (SigmaRegularExpressionFlag.IGNORECASE, "i"),
                (SigmaRegularExpressionFlag.MULTILINE, "m"),
                (SigmaRegularExpressionFlag.DOTALL, "s"),
            )
            if flag in regex.flags
        )
        pattern = (f"(?{flags})" if flags else "") + regex.regexp.original  # the regex as written
        return f"match({self.escape_and_quote_field(cond.field)}, {sql_string(pattern)})"

    def decide_convert_condition_as_in_expression(self, cond: ConditionOR | ConditionAND, state: ConversionState) -> bool:
        """`IN` on an array column would compare the array as a whole: there, one has() per value."""
        if any(isinstance(arg, ConditionFieldEqualsValueExpression) and arg.field in ARRAY_COLUMNS for arg in cond.args):
            return False
        return super().decide_convert_condition_as_in_expression(cond, state)

    # --- correlations ------------------------------------------------------------------------------

    def convert_correlation_event_count_rule(self, rule: SigmaCorrelationRule, output_format: str | None = None, method: str = "default") -> list[str]:
        return [self._window_query(rule, "count()", "eventCount")]

    def convert_correlation_value_count_rule(self, rule: SigmaCorrelationRule, output_format: str | None = None, method: str = "default") -> list[str]:
        fieldref = _plain_condition(rule).fieldref
        if not isinstance(fieldref, str):
            raise SigmaFeatureNotSupportedByBackendError("a value_count correlation counts the values of one field")
        field = self.escape_and_quote_field(fieldref)
        return [self._window_query(rule, f"uniqExact({field})", "valueCount")]

    def _window_query(self, rule: SigmaCorrelationRule, aggregate: str, count_name: str) -> str:
        """Per group, the aggregate over each event's preceding window (events less than `timespan`
        apart); a group is returned once, with its largest window figure, when a window crosses."""
        searches = [query for reference in rule.rules or [] for query in reference.rule.get_conversion_result()]
        search = " OR ".join(f"({query})" for query in searches)
        keys = [self.escape_and_quote_field(field) for field in rule.group_by or []]
        key_columns = [f"{key} AS `{field}`" if key != field else key for key, field in zip(keys, rule.group_by or [], strict=True)]
        names = [f"`{field}`" if key != field else field for key, field in zip(keys, rule.group_by or [], strict=True)]
        condition = _plain_condition(rule)
        operator = _OPERATORS[condition.op]
        crossing = f"windowFigure {operator} {condition.count}"
        partition = f"PARTITION BY {', '.join(names)} " if names else ""
        inner_columns = ", ".join(key_columns + ["eventTime"])
        outer_keys = ", ".join(names)
        seconds = rule.timespan.seconds
        return "\n".join(
            [
                f"SELECT {outer_keys + ', ' if names else ''}max(windowFigure) AS {count_name},",
                f"       minIf(eventTime, {crossing}) AS firstCrossedAt",
                "FROM",
                "(",
                f"    SELECT {inner_columns},",
                f"           {aggregate} OVER ({partition}ORDER BY toUnixTimestamp(eventTime)",
                f"               RANGE BETWEEN {seconds - 1} PRECEDING AND CURRENT ROW) AS windowFigure",
                f"    FROM {TABLE} FINAL",
                f"    WHERE {search}",
                ")",
                *([f"GROUP BY {outer_keys}"] if names else []),
                f"HAVING countIf({crossing}) > 0",
                f"ORDER BY {outer_keys + ', ' if names else ''}firstCrossedAt",
            ]
        )

    # --- the query text ------------------------------------------------------------------------------

    def finalize_query_default(self, rule: SigmaRule | SigmaCorrelationRule, query: Any, index: int, state: ConversionState) -> str:
        level = rule.level.name.lower() if rule.level else "none"
        header = [f"-- {rule.id} {level} {rule.title}"]
        header += ["-- " + line for line in textwrap.wrap(rule.description or "", 100)]
        if isinstance(rule, SigmaCorrelationRule):
            return "\n".join(header + [query]) + "\n"
        body = [
            f"SELECT {', '.join(EVENT_COLUMNS)}",
            f"FROM {TABLE} FINAL",
            f"WHERE {query}",
            "ORDER BY eventTime, eventID",
        ]
        return "\n".join(header + body) + "\n"
