"""German phrases (Sie-less, the informal "du" of colleagues). Topics are feminine or
neuter nouns only, and stand only where nominative or accusative fit: their article never
changes."""

LANGUAGE = "de"
REPLY_PREFIX = "Re: "  # not "AW:": threading and the tests look for one "Re:"
ATTRIBUTION = "Am {date} schrieb {name}:"
MONTHS = "Jan. Feb. März Apr. Mai Juni Juli Aug. Sep. Okt. Nov. Dez."
DAYS = "Mo. Di. Mi. Do. Fr. Sa. So."
DATE = "{weekday}, {day}. {month} {year} um {time}"

OPENERS = (
    "Kurze Frage:",
    "Update:",
    "Zur Info:",
    "Feedback:",
    "Nächste Schritte:",
    "Termin:",
    "Entwurf:",
    "Notizen:",
    "Rückfrage:",
    "Stand:",
    "Idee:",
    "Planung:",
    "Erinnerung:",
    "Abstimmung:",
    "Kurzer Check:",
    "Zusammenfassung:",
    "Vorschlag:",
    "Zahlen:",
    "Offene Punkte:",
    "Gedanken:",
    "Bitte kurz prüfen:",
    "Rückmeldung:",
    "Nachtrag:",
    "Zwei Fragen:",
    "Kleine Bitte:",
)
# (article, adjective ending, noun): feminine "die … -e", neuter "das … -e" after the article.
TOPIC_NOUNS = (
    ("die", "Präsentation"),
    ("das", "Budget"),
    ("die", "Kampagne"),
    ("das", "Angebot"),
    ("die", "Umfrage"),
    ("das", "Meeting"),
    ("die", "Planung"),
    ("die", "Roadmap"),
    ("das", "Konzept"),
    ("die", "Schulung"),
    ("die", "Rechnung"),
    ("das", "Protokoll"),
    ("die", "Landingpage"),
    ("die", "Analyse"),
    ("das", "Webinar"),
    ("die", "Checkliste"),
    ("die", "Agenda"),
    ("die", "Vorlage"),
    ("das", "Projekt"),
    ("die", "Kundenliste"),
    ("die", "Preisliste"),
    ("das", "Onboarding"),
    ("die", "Messe"),
    ("die", "Website"),
    ("das", "Handbuch"),
    ("die", "Auswertung"),
    ("das", "Briefing"),
    ("die", "Freigabe"),
    ("die", "Kalkulation"),
    ("das", "Reporting"),
    ("die", "Strategie"),
    ("das", "Design"),
)
TOPIC_ADJECTIVES = ("", "neue ", "interne ", "aktuelle ", "überarbeitete ", "geplante ")
TOPIC_SUFFIXES = (
    "",
    "",
    " für Q1",
    " für Q2",
    " für Q3",
    " für Q4",
    " 2027",
    " fürs Team",
    " für den Kunden",
    " (Entwurf)",
)
QUALIFIERS = (
    "",
    "",
    "",
    " bis Freitag",
    " diese Woche",
    " (kurz)",
    " - Stand heute",
    " vor dem Call",
    " für Montag",
    " (v2)",
    " - zwei Punkte",
    " nächste Woche",
    " - meine Notizen",
    " für Dienstag",
    " - kleine Änderung",
    " (Nachtrag)",
    " für Donnerstag",
    " (schnell)",
    " - deine Meinung",
    " - eine Frage",
    " vor Montag",
    " für den Call",
    " (final)",
    " - ein paar Ideen",
    " zur Durchsicht",
    " - Status",
    " für Mittwoch",
    " - bis Freitag",
    " (aktualisiert)",
    " - Entscheidung",
)
ROLES = (
    "Projektleitung",
    "Vertrieb",
    "Marketing",
    "Kundenbetreuung",
    "Geschäftsführung",
    "Einkauf",
    "Buchhaltung",
    "Teamleitung",
    "Personal",
    "Produktmanagement",
    "Beratung",
    "Assistenz der Geschäftsführung",
)

GRAMMAR = {
    "greeting": "Hallo {name},|Hi {name},|Guten Abend {name},|Guten Morgen {name},"
    "|Hey {name},|Servus {name},|Moin {name},|Guten Tag {name},|Hallo nochmal {name},",
    "warm": "{hope} {period_ok}.|{thanks_for} {recent}.|{quick_one} {from_me}.",
    "hope": "Ich hoffe,|Hoffentlich|Ich hoffe sehr,|Ich gehe davon aus,|Ich denke,|Ich wette,"
    "|Ich vermute,|Ich hoffe mal,",
    "period_ok": "deine Woche läuft {well}|der {day} war {calm}|bei dir ist {alles} {well}"
    "|du hattest ein {good} Wochenende|es geht dir {well}|dein {day} lief {well}",
    "well": "gut|entspannt|ruhig|prima|okay",
    "calm": "ruhig|entspannt|nicht zu voll|angenehm|produktiv",
    "good": "gutes|ruhiges|schönes|erholsames",
    "thanks_for": "Danke für|Vielen Dank für|Danke nochmal für|Herzlichen Dank für",
    "recent": "deine Nachricht {when}|das Telefonat {when}|die Notizen {when}"
    "|die schnelle Antwort|deine Hilfe {when}|das Update {when}",
    "when": "gestern|letzte Woche|am {day}|heute früh|neulich|am {day}nachmittag",
    "day": "Montag|Dienstag|Mittwoch|Donnerstag|Freitag",
    "quick_one": "Nur eine kurze|Eine kleine|Eine schnelle|Kurz eine",
    "from_me": "Info|Info von mir|Frage an dich|Rückmeldung|Erinnerung|Notiz",
    "question": "{ask} {topic} {timing} {ask_end}?|{is_there} {news} für {topic}?"
    "|{who_knows}, {topic_fact}?",
    "ask": "Kannst du dir|Könntest du dir|Magst du dir|Würdest du dir",
    "ask_end": "ansehen|anschauen|durchlesen|kurz anschauen|noch mal ansehen",
    "timing": "diese Woche|bis {day}|vor {day}|in den nächsten Tagen|heute noch"
    "|vor unserem Call|nach deinem Urlaub|irgendwann",
    "is_there": "Gibt es|Hast du|Haben wir|Kennst du",
    "news": "etwas Neues|einen Termin|neue Zahlen|schon Feedback|eine Entscheidung"
    "|eine neue Version",
    "who_knows": "Weißt du|Erinnerst du dich|Kannst du prüfen|Hast du eine Idee|Weißt du zufällig"
    "|Kannst du herausfinden|Kannst du mir sagen",
    "topic_fact": "wer {topic} freigegeben hat|wann {topic} fällig ist|wo {topic} liegt"
    "|was sich für {topic} {zuletzt}geändert hat|wer {topic} betreut",
    "wonder": "{i_wonder}, ob wir {topic} {action} {sollten}.|{i_wonder}, ob {topic} noch {need}"
    " braucht.",
    "i_wonder": "Ich frage mich|Ich bin nicht sicher|Ich überlege|Mich würde interessieren"
    "|Ich weiß nicht|Ich zweifle|Wir sollten klären|Ich grübele|Mir ist unklar",
    "need": "eine Runde|eine zweite Meinung|mehr Zeit|einen klaren Owner|weniger Schritte"
    "|eine Zusammenfassung",
    "action": "vereinfachen|aufteilen|überarbeiten|abschließen|testen|dokumentieren|kürzen"
    "|verschieben",
    "update": "{status_lead} {topic} {status_is} {status_state}.|{i_have} {artefact} {where}"
    " {done}.",
    "status_lead": "Kurzes Update:|Kurzer Stand:|Zur Info:|Gute Nachricht:|Wie versprochen:"
    "|Nur damit du Bescheid weißt:|Kleines Update:",
    "status_is": "ist jetzt|ist|wirkt|ist endlich|ist inzwischen",
    "status_state": "fast fertig|in gutem Zustand|bereit für einen letzten Blick"
    "|wieder in Bewegung|einen Tag hinterher|einfacher als vorher|fast final"
    "|im Plan für {day}",
    "i_have": "Ich habe|Wir haben|Heute früh habe ich|Gestern haben wir|Ich habe gerade",
    "artefact": "den ersten Teil|die offenen Punkte|die Zahlen|die Zusammenfassung"
    "|den zweiten Abschnitt|die Einleitung|die Namensliste|den letzten Teil",
    "where": "im geteilten Ordner|im Dokument|auf unserer Seite|im Tracker|wie besprochen"
    "|für das Team|in der neuen Version",
    "done": "aktualisiert|aufgeräumt|geteilt|umgeschrieben|geprüft|verschoben|gekürzt|ergänzt",
    "scheduling": "{could_we} {slot_time} {meet}?|{i_am} {slot_time} {free}, {if_that}.",
    "could_we": "Können wir|Wollen wir|Sollen wir|Könnten wir|Wollen wir vielleicht",
    "meet": "kurz telefonieren|uns treffen|einen Call machen|das besprechen"
    "|auf einen Kaffee gehen|kurz sprechen",
    "slot_time": "am {day} um {hour}|am {day}vormittag|{day} nach dem Mittag|am {day} gegen {hour}"
    "|später am {day}|nächsten {day}|am {day} vor {hour}|am {day} nach {hour}",
    "hour": "9 Uhr|9:30|10 Uhr|10:30|11 Uhr|13 Uhr|14 Uhr|14:30|15 Uhr|16 Uhr",
    "i_am": "Ich bin|Ich wäre|Wir sind|Ich bin sicher|Ich bin vermutlich|Ich bin sonst",
    "free": "frei|erreichbar|im Büro|verfügbar|flexibel",
    "if_that": "falls {das3} {passt3}|wenn dir das hilft|wenn es dir passt|wenn du magst"
    "|falls nötig|wenn es eilt|wenn du willst|falls du Zeit hast",
    "thanks": "{thank} {for_what}{amp}.",
    "thank": "Vielen Dank|Danke dir|Herzlichen Dank|Tausend Dank|Danke nochmal|Großes Danke",
    "for_what": "für {die_hilfe} {topic}|für {das_x2} {when}|für {das_x2}",
    "amp": "|, {das_war} {lob}|. {das_war_cap} {lob}",
    "note": "{note_open} {someone} hat nach {topic_dat} gefragt."
    "|{note_open} {someone} {asked} nach {topic_dat}.|{note_open} Ich bin {when2} {away}."
    "|{note_open} {topic} {status_is} {status_state}.",
    "topic_dat": "dem Stand|den Zahlen|dem Termin|der Freigabe|dem Entwurf|den Details",
    "note_open": "Kurzer Hinweis:|Noch etwas:|Übrigens:|Nebenbei:|Fast vergessen:"
    "|Kleine Sache:|Ach ja:|PS:|Am Rande:",
    "someone": "eine Kollegin|unser Chef|die Buchhaltung|ein Kunde|das Designteam"
    "|ein neuer Partner|der Vertrieb|unsere Praktikantin|ein Lieferant",
    "asked": "fragte|erkundigte sich|fragte heute|fragte gestern",
    "away": "nicht im Büro|offline|unterwegs|auf einem Workshop|im Urlaub|in Terminen",
    "when2": "am {day}|nächsten {day}|fast den ganzen {day}|am {day}vormittag|ab {day}|bis {day}",
    "writeup": "{seq} {we_should} {topic} {action}, {because} {reason}.",
    "seq": "Erstens|Zweitens|Dann|Danach|Außerdem|Zum Schluss|Kurz gesagt",
    "we_should": "sollten wir|würde ich|könnten wir|möchte ich",
    "because": "weil|da",
    "reason": "die Frist {when3} ist|viele danach fragen|es Zeit spart|die Zahlen sich"
    " geändert haben|es noch keinen Owner gibt|es halb fertig ist",
    "ask_back": "{let_me_know} {lmk_what}.|{no_rush}{no_rush_tail}.",
    "let_me_know": "Sag mir Bescheid,|Gib mir kurz Bescheid,|Schreib mir,|Melde dich,|Sag einfach,"
    "|Gib mir ein Zeichen,|Ruf kurz durch,",
    "lmk_what": "was du {von_x} {haeltst}|ob {das_x} {passt}|wenn du {mehr_x} brauchst"
    "|wie wir {weiter_x} {machen}",
    "no_rush": "Keine Eile|Kein Stress|Nichts Dringendes|Lass dir Zeit|Das eilt nicht|Ganz in Ruhe",
    "no_rush_tail": "| damit| hier|, {later_ok}|. {later_ok_cap}",
    "reply": "{thanks_short} {for_reply}{amp}.|{agree} {reply_plan}.|{one_q} {q_reply}?"
    "|{i_am} {slot_time} {free}, {if_that}.",
    "thanks_short": "Danke|Vielen Dank|Danke dir|Super, danke|Perfekt, danke",
    "for_reply": "für die {schnell} {antwort}|fürs {schicken}|für das {update_de}"
    "|für die {erinnerung} {when}",
    "agree": "Passt für mich,|Klingt gut,|Einverstanden,|Gute Idee,|Verstanden,|Alles klar,",
    "reply_plan": "ich schaue es mir {when3} an|ich {pruefe} es {when3}|wir machen es {wie_x}"
    "|ich schicke dir {artefact} {when3}|ich bin {dabei}|ich übernehme {artefact}",
    "when3": "heute|morgen|bis {day}|am {day}|später heute|diese Woche|vor {day}",
    "one_q": "Eine Frage:|Kurzer Check:|Nur zur Sicherheit:|Bevor ich anfange:|Kleine Frage:"
    "|Noch eins:|Zur Sicherheit:|Kurz gefragt:|Sag mal:|Übrigens:",
    "q_reply": "passt {day} noch|brauchst du {es2} bis {day}|soll ich {someone_akk} einbinden"
    "|gilt {version} noch|wer soll {es2} {noch} sehen",
    "signoff": "Viele Grüße|Beste Grüße|Liebe Grüße|Gruß|Danke und viele Grüße|Bis bald"
    "|Schöne Grüße|Herzliche Grüße|Bis später|Ciao|LG|Bis {day}|Grüße aus dem Büro",
    "von_x": "davon|vom Entwurf|von der Idee|vom Plan|von meinen Notizen|von der Liste",
    "haeltst": "hältst|denkst|erwartest|ändern würdest|streichen würdest",
    "das_x": "das|der Termin|die Reihenfolge|der Plan|die Zahl|die Version|der Ablauf",
    "passt": "passt|so passt|für dich passt|noch passt|klappt|reicht",
    "mehr_x": "mehr Details|mehr Zeit|Beispiele|Zahlen|Kontext|Hilfe|eine Vorlage",
    "weiter_x": "damit|mit dem Entwurf|mit der Liste|mit dem Plan|ab {day}|danach",
    "machen": "weitermachen|umgehen|vorgehen|anfangen|loslegen",
    "later_ok": "wann immer es dir passt|{day} reicht auch|nächste Woche geht auch"
    "|nach {day} ist okay|es kann bis {day} warten",
    "later_ok_cap": "{day} reicht auch|Nächste Woche geht auch|Jeder Tag passt|Später ist okay",
    "das_war": "das war|es war|das ist|alles war|wirklich",
    "das_war_cap": "Das war|Es war|Das ist|Wirklich",
    "lob": "super|eine große Hilfe|genau richtig|sehr nett|perfekt|eine Erleichterung"
    "|Gold wert|klasse",
    "die_hilfe": "die Hilfe bei|die Arbeit an|deinen Blick auf|die Ideen für|den Einsatz für"
    "|deine Notizen zu|das Feedback zu",
    "das_x2": "die Zeit|die schnelle Rückmeldung|die netten Worte|deine Geduld|den Hinweis"
    "|die Erinnerung|deinen Input",
    "das3": "das|die Uhrzeit|der Tag|der Slot|das Format",
    "passt3": "passt|geht|klappt|dir hilft|dir lieber ist",
    "alles": "alles|soweit alles|gerade alles|im Team alles|wieder alles",
    "es2": "es|das|den Entwurf|die Zahlen|die Notizen|die Liste",
    "version": "die alte Version|der letzte Entwurf|die kurze Fassung|die Datei von {day}"
    "|die zweite Variante|die geteilte Kopie",
    "noch": "noch|auch|unbedingt|vorher|zuerst",
    "wie_x": "wie geplant|so|am {day}|ab {day}|mit der ersten Variante|genau so|gemeinsam",
    "dabei": "dabei|am {day} dabei|gern dabei|beim Termin dabei|ab {day} dabei",
    "zuletzt": "|zuletzt |diese Woche |seit {day} |kürzlich |noch ",
    "schnell": "schnelle|klare|ausführliche|nette|rasche|kurze",
    "antwort": "Antwort|Rückmeldung|Info|Nachricht|Zusage",
    "update_de": "Update|Feedback|Protokoll|Detail|Dokument",
    "sollten": "sollten|müssen|können|wollen|dürfen|werden",
    "pruefe": "prüfe|lese|kommentiere|bespreche|ergänze|kläre",
    "someone_akk": "eine Kollegin|unseren Chef|die Buchhaltung|den Kunden|das Designteam"
    "|einen neuen Partner|den Vertrieb|unsere Praktikantin|einen Lieferanten",
    "schicken": "Schicken|Teilen|Weiterleiten|Nachhaken|Prüfen|Erinnern",
    "erinnerung": "Erinnerung|Zusammenfassung|Notiz|Liste|Übersicht",
}
