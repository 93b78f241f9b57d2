"""A custom node: flag values above a limit."""

from dataflow import SCALAR, In, Node, Out, Param


class Threshold(Node):
    """Emit 1.0 when the value is above ``limit``, else 0.0."""

    inputs = [In("value", SCALAR)]
    outputs = [Out("flag", SCALAR)]
    params = [Param("limit", float, 10.0, "values above this are flagged")]

    def process(self, value: float) -> dict:
        return {"flag": 1.0 if value > self.limit else 0.0}
