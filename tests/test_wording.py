"""The user's words as facts about the user: third person, pronouns, introductions."""

from __future__ import annotations

import pytest

from memory.wording import foreign, introduced_name, name_introductions, own_voice, resolve_pronouns, third_person


@pytest.mark.parametrize(
    ("said", "fact"),
    [
        ("I actually live in Victoria, on the island.", "The user actually lives in Victoria, on the island."),
        ("My cat Miso knocked my mug over.", "The user's cat Miso knocked the user's mug over."),
        ("I don't live in Utrecht anymore", "The user doesn't live in Utrecht anymore"),
        ("i teach maths and i study law", "The user teaches maths and the user studies law"),
        ("I'm a morning person", "The user is a morning person"),
        ("I have an allergy to penicillin", "The user has an allergy to penicillin"),
        ("I can't stand cilantro", "The user can't stand cilantro"),
        ("Honestly I hate cooking", "Honestly the user hates cooking"),
        ("Our dog Bruno chews the sofa", "The user's dog Bruno chews the sofa"),
        ("I told you Vancouver", "The user told you Vancouver"),
        ("I go running when I finish work", "The user goes running when the user finishes work"),
        ("Lena lives in Porto", "Lena lives in Porto"),
        ("Dorothy and I are planning a trip", "Dorothy and the user are planning a trip"),
        ("We live up in Duluth", "The user and their family live up in Duluth"),  # "we" includes the user
    ],
)
def test_the_first_person_becomes_the_user(said: str, fact: str) -> None:
    assert third_person(said) == fact


@pytest.mark.parametrize(
    ("said", "fact"),
    [
        (
            "My brother got laid off and he's pretty down.",
            "The user's brother got laid off and the user's brother is pretty down.",
        ),
        (
            "My daughter Emi started school and she's been nervous.",
            "The user's daughter Emi started school and the user's daughter Emi has been nervous.",
        ),
        ("My sister Lena moved. She's happy.", "The user's sister Lena moved. The user's sister Lena is happy."),
        ("My mum called and he was there.", "The user's mum called and he was there."),  # not her: left alone
        ("She's happy.", "She's happy."),  # nobody named before: left alone
        ("My sister says hello, which helps.", "The user's sister says hello, which helps."),
    ],
)
def test_a_pronoun_names_the_relative_just_mentioned(said: str, fact: str) -> None:
    assert resolve_pronouns(third_person(said)) == fact


@pytest.mark.parametrize(
    ("said", "name"),
    [
        ("Hi, I'm Noor! Could you help?", "Noor"),
        ("Hey, Kwame here. Quick one", "Kwame"),
        ("Hello, my name is Hiroshi.", "Hiroshi"),
        ("Name's Dana", "Dana"),
        ("im Dana lol", "Dana"),
        ("I am Noor Haddad and I cook", "Noor Haddad"),
        ("I'm Canadian", None),
        ("It's Monday again", None),
        ("I'm learning Portuguese", None),
        ("This is fine", None),
        ("yo its jayden 😅 wats a good caption", "Jayden"),  # lowercase, right after a greeting
        ("hey its kenz here lol", "Kenz"),
        ("hey im tired. any tips", None),
        ("hi its me again", None),
        ("so its fine", None),
        ("Hola! Soy Camila 😊 can you help", "Camila"),
        ("hallo, ich heiße Jonas und brauche Hilfe", "Jonas"),
        ("Hallo! Ich bin Annika, Annika Vogel.", "Annika"),
        ("Ich bin Bauingenieurin bei einem Büro", None),  # German nouns take a capital
        ("Mein Bruder bekommt Zwillinge im Herbst", None),  # "im" is "in the", not "I'm"
        ("Hoi! Ik ben Femke, trouwens.", "Femke"),
        ("Ik ben Verpleegkundige bij het ziekenhuis", None),  # a job, capitalised by mistake
    ],
)
def test_an_introduction_gives_a_name(said: str, name: str | None) -> None:
    assert introduced_name(said) == name


def test_an_introduction_reads_as_the_fact_it_gives() -> None:
    assert name_introductions("Hey, Kwame here.") == "Hey, the user's name is Kwame."
    assert third_person(name_introductions("I'm Sam and I bake.")) == "The user's name is Sam and the user bakes."


@pytest.mark.parametrize(
    ("said", "fact"),
    [
        ("Live in Toowong, Brisbane.", "The user lives in Toowong, Brisbane."),
        ("Moved to Paddington in March.", "The user moved to Paddington in March."),
        ("Run at 5am every day before shift.", "The user runs at 5am every day before shift."),
        ("Nervous about the hills.", "The user is nervous about the hills."),
        ("Vegetarian.", "The user is vegetarian."),
        ("Brother Luke's wife had twins yesterday.", "The user's brother Luke's wife had twins yesterday."),
        ("Luke moved to Oslo.", "Luke moved to Oslo."),  # someone else is the subject
        ("The trade fair is in Porto now.", "The trade fair is in Porto now."),
        ("I live in Leeds.", "The user lives in Leeds."),
        ("Training for a half marathon.", "The user is training for a half marathon."),
        ("Wedding in June.", None),  # a noun in -ing is no verb
        ("Paramedic.", None),  # a bare fragment: its words alone do not say what it states
        ("Need a two-line bio for a climbing gym profile.", None),  # a request, not "the user needs"
    ],
)
def test_a_dropped_subject_is_put_back(said: str, fact: str | None) -> None:
    voiced = own_voice(said)
    assert (third_person(voiced) if voiced else None) == fact


@pytest.mark.parametrize(
    ("sentence", "other"),
    [
        ("Ich habe eine Haselnussallergie, so Nutella is out, leider.", True),
        ("Big news: mein Bruder Jonas und seine Frau bekommen Zwillinge.", True),
        ("Tengo un gatito y mi hermana tiene un perro.", True),
        ("I live in Leeds and I love it.", False),
        ("Die Hard is my favourite film and I watch it every year.", False),
        ("Mi hermana Valentina se casa in Bogotá and I am so excited.", False),  # as much English: rewritten
        ("Mijn oom Kees is gepensioneerd!", True),  # another language's "my" and hardly any English
    ],
)
def test_a_sentence_mostly_in_another_language_is_recognised(sentence: str, other: bool) -> None:
    assert foreign(sentence) is other
