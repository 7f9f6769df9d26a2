"""The trace markup: the tags a completion is written in. Text from data or from a model that
contains them could end a trace early or fake an answer, so loaders and trace builders refuse such
text (counted, with the reason) and the parser reads the answer only after the trace."""

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
ANSWER_OPEN, ANSWER_CLOSE = "<answer>", "</answer>"
MARKUP_TOKENS = (THINK_OPEN, THINK_CLOSE, ANSWER_OPEN, ANSWER_CLOSE)


def contains_markup(text: str) -> bool:
    lowered = text.lower()
    return any(tag in lowered for tag in MARKUP_TOKENS)
