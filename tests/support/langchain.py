"""Scripted LangChain candidates shared by the tests (the langchain-tests suites, unit and integration)."""

from __future__ import annotations

from langchain_smoothie import ScriptedChatModel


def greeting_candidates() -> list[ScriptedChatModel]:
    """Three offline candidates that greet in slightly different words."""
    return [
        ScriptedChatModel(model_name="a", default_answer="Hello! How can I help you today?"),
        ScriptedChatModel(model_name="b", default_answer="Hi! How can I help you?"),
        ScriptedChatModel(model_name="c", default_answer="Hello there, what do you need?"),
    ]


#: Two topics with known answers (capitals, cooking steps), shared by the router and
#: runnables tests.
COUNTRIES = {
    "France": "Paris",
    "Italy": "Rome",
    "Spain": "Madrid",
    "Japan": "Tokyo",
    "Egypt": "Cairo",
    "Peru": "Lima",
    "Kenya": "Nairobi",
    "Chile": "Santiago",
}
DISHES = {
    "rice": "simmer it covered for 18 minutes",
    "eggs": "boil them for 9 minutes",
    "pasta": "boil it in salted water for 10 minutes",
    "steak": "sear it 3 minutes a side",
    "salmon": "bake it at 200 C for 12 minutes",
    "beans": "soak them overnight then simmer",
    "potatoes": "roast them at 220 C for 40 minutes",
    "tofu": "press it then fry it",
}
