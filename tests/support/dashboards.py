"""The metric selectors inside the dashboards' panel queries (the dashboards
themselves are read back by services/monitoring/panels.py)."""

import promql_parser


def selectors(expr: str) -> list[str]:
    """Every vector selector of ``expr`` (a resolved query), as PromQL."""
    found: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            # The parser prints label values unescaped: escape them again.
            found.append(str(node).replace("\\", "\\\\"))
        elif isinstance(node, promql_parser.MatrixSelector):
            walk(node.vector_selector)
        elif isinstance(node, promql_parser.Call):
            for arg in node.args:
                walk(arg)
        elif isinstance(node, promql_parser.BinaryExpr):
            walk(node.lhs)
            walk(node.rhs)
        elif isinstance(
            node,
            promql_parser.AggregateExpr
            | promql_parser.ParenExpr
            | promql_parser.UnaryExpr
            | promql_parser.SubqueryExpr,
        ):
            walk(node.expr)

    walk(promql_parser.parse(expr))
    return found
