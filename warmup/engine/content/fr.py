"""French phrases (the "tu" of colleagues). Topics carry their article and stand only
after words that need no contraction ("sur", "pour", "concernant")."""

LANGUAGE = "fr"
REPLY_PREFIX = "Re: "
ATTRIBUTION = "Le {date}, {name} a écrit :"
MONTHS = "janv. févr. mars avr. mai juin juil. août sept. oct. nov. déc."
DAYS = "lun. mar. mer. jeu. ven. sam. dim."
DATE = "{weekday} {day} {month} {year} à {time}"

OPENERS = (
    "Question sur",
    "Suivi :",
    "Point sur",
    "Retour sur",
    "Idées pour",
    "Notes sur",
    "Prochaines étapes pour",
    "Avis sur",
    "Rappel :",
    "Brouillon pour",
    "Résumé :",
    "Petite question sur",
    "Chiffres pour",
    "Ordre du jour :",
    "Proposition pour",
    "Planning pour",
    "Deux questions sur",
    "Dernière relecture :",
    "Infos sur",
    "Quelques remarques sur",
    "Calendrier pour",
    "Mise à jour :",
    "Relance :",
    "Besoin d'aide sur",
    "Échange sur",
    "Petit point sur",
    "Remarques sur",
    "Validation :",
    "Question rapide :",
    "À propos de :",
)
TOPIC_NOUNS = (
    "le budget",
    "la présentation",
    "la campagne",
    "le devis",
    "le sondage",
    "le planning",
    "la feuille de route",
    "le compte rendu",
    "la formation",
    "la facture",
    "l'atelier",
    "le webinaire",
    "la newsletter",
    "le contrat",
    "la page d'accueil",
    "le rapport",
    "la réunion d'équipe",
    "le projet pilote",
    "la checklist",
    "le salon",
    "le dossier",
    "la maquette",
    "le lancement",
    "l'étude de cas",
    "le site",
    "la proposition",
    "le tableau de bord",
    "l'enquête client",
    "le recrutement",
    "la charte graphique",
    "le bilan",
    "la liste de prix",
    "l'ordre du jour",
    "le guide",
    "l'audit",
    "le catalogue",
    "la brochure",
    "le communiqué",
    "le calendrier éditorial",
    "la fiche produit",
    "le questionnaire",
    "le point d'équipe",
    "la vidéo",
    "l'offre",
    "le support de cours",
)
TOPIC_SUFFIXES = (
    "",
    "",
    " du T1",
    " du T2",
    " du T3",
    " du T4",
    " 2027",
    " pour l'équipe",
    " interne",
    " client",
    " (version 2)",
    " de mars",
    " de décembre",
    " de janvier",
    " (brouillon)",
    " partenaires",
    " 2026",
    " final",
)
QUALIFIERS = (
    "",
    "",
    "",
    " avant vendredi",
    " cette semaine",
    " (court)",
    " - point rapide",
    " pour lundi",
    " (v2)",
    " - deux points",
    " semaine prochaine",
    " - mes notes",
    " pour mardi",
    " - petit changement",
    " avant l'appel",
    " (suite)",
    " pour jeudi",
    " (rapide)",
    " - ton avis",
    " - une question",
    " avant lundi",
    " pour l'appel",
    " (final)",
    " - quelques idées",
    " pour relecture",
    " - statut",
    " pour le 15",
    " - d'ici vendredi",
    " (mise à jour)",
    " - décision",
)
ROLES = (
    "Chef de projet",
    "Responsable commercial",
    "Marketing",
    "Relation client",
    "Direction",
    "Achats",
    "Comptabilité",
    "Responsable d'équipe",
    "Ressources humaines",
    "Chef de produit",
    "Consultante",
    "Assistante de direction",
)

GRAMMAR = {
    "greeting": "Bonjour {name},|Salut {name},|Hello {name},|Bonjour {name} !|Coucou {name},"
    "|Rebonjour {name},|Bonsoir {name},",
    "warm": "{hope} {period_ok}.|{thanks_for} {recent}.|{quick_one} {from_me}.",
    "hope": "J'espère que|J'espère bien que|Je pense que|J'imagine que|Je suppose que"
    "|Je parie que|Je crois que",
    "period_ok": "ta semaine se passe {well}|ton {day} s'est passé {well}|tout va {well}"
    "|tu as passé un {good} week-end|tu vas {well}|l'équipe va {well}"
    "|tu as pu te reposer {un_peu}|ton {day} sera {calme}",
    "well": "bien|tranquillement|plutôt bien|sans souci",
    "good": "bon|beau|très bon|super|excellent",
    "thanks_for": "Merci pour|Merci beaucoup pour|Merci encore pour|Un grand merci pour",
    "recent": "ton message {when}|l'appel {when}|les notes {when}|ta réponse rapide"
    "|ton aide {when}|le point {when}",
    "when": "d'hier|de la semaine dernière|de {day}|de ce matin|de l'autre jour"
    "|de {day} après-midi|de tout à l'heure|d'avant-hier",
    "day": "lundi|mardi|jeudi|vendredi",
    "quick_one": "Juste un petit|Un court|Un rapide|Un simple|Un tout petit|Juste un|Encore un",
    "from_me": "mot|mot rapide|point de mon côté|rappel|message|suivi",
    "question": "{ask} {topic} {timing} ?|{is_there} {news} {pour_x} {topic} ?"
    "|{who_knows} {topic_fact} ?",
    "ask": "{tu_peux} {verbe}",
    "timing": "cette semaine|avant {day}|d'ici {day}|quand tu auras un moment"
    "|dans les prochains jours|avant notre appel|à ton retour|dans la journée",
    "is_there": "Est-ce qu'il y a|On a|Tu as|Il existe|Il y a déjà|Tu aurais|On aurait",
    "news": "du nouveau|une date|des chiffres récents|un retour|une décision"
    "|une nouvelle version|un planning|une réponse",
    "who_knows": "Tu sais|Tu peux vérifier|Tu pourrais voir|Tu sais peut-être|Tu pourrais demander"
    "|Tu peux me dire|Tu saurais dire",
    "topic_fact": "qui a {valide} {topic}|où {se_trouve} {topic}|ce qui a {change} pour {topic}"
    "|qui {soccupe} de la suite",
    "wonder": "{i_wonder} si {on_x} {action} {topic}.|{i_wonder} si {topic} a encore"
    " besoin {need}.",
    "i_wonder": "Je me demande|Je ne sais pas trop|J'hésite à savoir|Je voulais savoir|Je réfléchis"
    "|Je suis curieux de savoir|Je doute|J'aimerais savoir|On devrait décider"
    "|Je me pose la question",
    "need": "d'une relecture|d'un deuxième avis|de plus de temps|d'un responsable clair"
    "|d'un résumé|de chiffres à jour",
    "action": "simplifier|découper|revoir|finir|tester|documenter|raccourcir|reporter",
    "update": "{status_lead} {topic} {status_is} {status_state}.|{i_have} {done} {artefact}"
    " {where}.",
    "status_lead": "Petit point :|Pour info,|Bonne nouvelle :|Comme promis,"
    "|Juste pour te tenir au courant,|Mise à jour rapide :",
    "status_is": "est maintenant|semble|est enfin|est|paraît",
    "status_state": "en bonne voie|en cours de relecture|à jour|en attente d'une réponse"
    "|avec un jour de retard|plus simple qu'avant|dans les temps|sur la bonne voie pour {day}",
    "i_have": "J'ai|On a|Ce matin j'ai|Hier on a|Tout à l'heure j'ai|Finalement j'ai"
    "|Cette semaine on a",
    "done": "mis à jour|nettoyé|partagé|réécrit|vérifié|déplacé|raccourci|complété",
    "artefact": "la première partie|les points ouverts|les chiffres|le résumé"
    "|la deuxième section|l'introduction|la liste des noms|la dernière partie|les dates"
    "|l'annexe|la liste des contacts|les questions en suspens",
    "where": "dans le dossier partagé|dans le document|sur notre page|dans le suivi"
    "|comme convenu|pour l'équipe|dans la dernière version|dans le dossier commun"
    "|dans notre espace|sur le tableau|dans le brouillon",
    "scheduling": "{could_we} {meet} {slot_time} ?|{i_am} {free} {slot_time}, {if_that}.",
    "could_we": "On peut|On pourrait|On devrait|Ça te dirait de|Il faudrait|Tu aurais le temps de"
    "|On essaie de|Ce serait bien de",
    "meet": "s'appeler|se voir|faire un point|en parler|prendre un café|faire un appel"
    "|se caler un créneau"
    "|caler une visio|déjeuner ensemble|tout revoir",
    "slot_time": "{day} à {hour}|{day} {moment}|{day} vers {hour}|plus tard {day}|{day} prochain"
    "|{day} avant {hour}|{day} après {hour}",
    "hour": "9 h|9 h 30|10 h|10 h 30|11 h|14 h|14 h 30|15 h|16 h",
    "i_am": "Je suis|Je serai|On est|Je devrais être",
    "free": "libre|disponible|joignable|au bureau",
    "if_that": "si ça {te_aide}|si {cela_x} te va|si c'est {plus_simple}|si tu veux|si besoin"
    "|si tu préfères",
    "thanks": "{thank} {for_what}{amp}.",
    "thank": "Merci beaucoup|Merci|Un grand merci|Mille mercis|Merci encore|Merci bien",
    "for_what": "pour {aide} {topic}|pour {le_x} {when}|pour {le_x}",
    "amp": "|, {cetait} {bravo}|. {cetait_cap} {bravo}",
    "note": "{note_open} {someone} {asked} {nouvelles} {pour_x} {topic}.|{note_open} je serai"
    " {away} {when2}.|{note_open} {topic} {status_is} {status_state}.",
    "note_open": "Petite info :|Autre chose :|Au fait,|En passant,|Avant que j'oublie,"
    "|Petit détail :",
    "someone": "une collègue|notre responsable|quelqu'un de la compta|un client"
    "|l'équipe design|un nouveau partenaire|le service juridique|notre stagiaire"
    "|un fournisseur|la direction",
    "asked": "m'a demandé|voulait|attend|m'a réclamé",
    "away": "absent|hors ligne|en déplacement|en atelier|en congé|en réunion",
    "when2": "{day}|{day} prochain|presque tout {day}|{day} matin",
    "writeup": "{seq} {we_should} {action} {topic}, {because} {reason}.",
    "seq": "D'abord,|Ensuite,|Puis|Après,|En plus,|Enfin,|Bref,",
    "we_should": "on devrait|je voudrais|on pourrait|je propose de",
    "because": "parce que|car|vu que",
    "reason": "l'échéance est {when3}|on nous le demande souvent|ça fait gagner du temps"
    "|les chiffres ont changé|personne ne s'en occupe|c'est déjà à moitié fait",
    "ask_back": "{let_me_know} {lmk_what}.|{no_rush} {no_rush_b}{no_rush_tail}.",
    "let_me_know": "Dis-moi|Tiens-moi au courant|Fais-moi signe|Écris-moi|Préviens-moi|Redis-moi",
    "lmk_what": "ce que tu {penses} {de_x}|si {ca_x} {te_va}|si tu veux {plus_x}"
    "|comment on {continue_x}",
    "no_rush": "Rien d'urgent|Pas d'urgence|Prends ton temps|Aucune urgence|Pas de pression"
    "|Tranquille",
    "no_rush_tail": "|, {later_ok}|. {later_ok_cap}",
    "reply": "{thanks_short} {for_reply}{amp}.|{agree} {reply_plan}.|{one_q} {q_reply} ?"
    "|{i_am} {free} {slot_time}, {if_that}.",
    "thanks_short": "Merci|Merci beaucoup|Merci bien|Super, merci|Parfait, merci",
    "for_reply": "pour le {msg_fr}|pour {ta_x}|pour l'envoi|pour le rappel",
    "agree": "Ça me va,|Très bien,|D'accord,|Bonne idée,|Compris,|Parfait,",
    "reply_plan": "je regarde ça {when3}|on fait comme prévu|je t'envoie {artefact} {when3}"
    "|je suis partant|je {prends} {artefact}",
    "when3": "aujourd'hui|demain|d'ici {day}|{day}|ce soir|cette semaine|avant {day}|{day} matin",
    "one_q": "Une question :|Petite vérification :|Juste pour confirmer,|Avant de commencer,"
    "|Petite question :|Au fait,|Pour être sûr,",
    "q_reply": "{day} te va toujours|tu {en_as_besoin} {pour_quand}|je mets {someone} {en_copie}"
    "|{version} est encore {valable}|qui d'autre doit {voir} {ca2}",
    "signoff": "Bonne journée,|Cordialement,|Bien à toi,|À bientôt,|Merci et à bientôt,"
    "|Belle journée,|Bises,|Bonne fin de journée,",
    "on_x": "on devrait|on peut|on va|je dois|nous devons|c'est le moment de|tu veux|l'équipe doit",
    "tu_peux": "Tu pourrais|Tu peux|Tu as le temps de|Tu veux bien|Tu arriverais à"
    "|Ce serait possible de",
    "verbe": "regarder|relire|vérifier|valider|commenter|m'aider avec|parcourir|finaliser",
    "penses": "penses|retiens|changerais|enlèverais|ajouterais",
    "de_x": "du brouillon|de l'idée|du plan|de mes notes|de la liste|de tout ça",
    "ca_x": "ça|la date|l'ordre|le plan|le chiffre|la version|le format",
    "te_va": "te va|te convient|tient la route|marche pour toi|suffit|reste bon",
    "plus_x": "plus de détails|plus de temps|des exemples|des chiffres|du contexte|un modèle",
    "continue_x": "continue|avance|s'organise|commence|fait ensuite|procède",
    "no_rush_b": "ici|pour ça|de mon côté|vraiment|du tout|pour l'instant",
    "later_ok": "quand tu veux|{day} ça va aussi|la semaine prochaine ira|après {day} c'est bien"
    "|ça peut attendre {day}",
    "later_ok_cap": "{day} ça va aussi|La semaine prochaine ira|N'importe quel jour ira"
    "|Plus tard ça va",
    "cetait": "c'était|c'est|tout était|franchement c'était|vraiment c'était",
    "cetait_cap": "C'était|C'est|Franchement c'était|Tout était",
    "bravo": "parfait|une vraie aide|très gentil|pile ce qu'il fallait|un soulagement|top"
    "|précieux|génial",
    "aide": "ton aide sur|le travail sur|ton regard sur|tes idées pour|tes notes sur"
    "|ton retour sur",
    "le_x": "le temps passé|ta réponse rapide|tes {gentils} mots|ta patience|le rappel|ton retour",
    "te_aide": "te va|peut aider|t'arrange|te convient|simplifie les choses|te dépanne",
    "cela_x": "cela|l'horaire|ce créneau|le jour|le format",
    "plus_simple": "plus simple|plus pratique|mieux pour toi|plus facile|possible",
    "version": "l'ancienne version|le dernier brouillon|la version courte|le fichier de {day}"
    "|la deuxième option|la copie partagée",
    "valable": "valable|à jour|la bonne|utilisable|d'actualité",
    "voir": "voir|relire|recevoir|valider|lire",
    "ca2": "ça|le brouillon|les chiffres|les notes|la liste|le résumé",
    "un_peu": "un peu|ce week-end|enfin|vraiment|quand même",
    "calme": "calme|agréable|productif|tranquille|léger",
    "valide": "validé|lancé|demandé|relu|préparé|signé",
    "se_trouve": "se trouve|est passé|est parti|est stocké",
    "change": "changé|bougé|été ajouté|été retiré|évolué|coincé",
    "soccupe": "s'occupe|se charge|est responsable|prend en main|décide",
    "pour_x": "pour|sur|concernant",
    "nouvelles": "des nouvelles|un point|des détails|une date|un retour|un avis",
    "en_as_besoin": "en as besoin|le veux|l'attends|en auras besoin|comptes dessus|le prévois",
    "pour_quand": "pour {day}|avant {day}|d'ici {day}|{day} matin|dès {day}|cette semaine",
    "msg_fr": "message|point|retour|résumé|détail|lien",
    "ta_x": "ta réponse {rapide_fr}|ta note|ta relecture|ta confirmation",
    "rapide_fr": "rapide|claire|détaillée|sympa|précise",
    "en_copie": "en copie|dans la boucle|au courant|en copie cachée|dans l'échange",
    "moment": "matin|après le déjeuner|en fin de journée|à l'heure du café|en début d'après-midi"
    "|avant midi|soir",
    "prends": "prends|relis|termine|complète|vérifie|reprends",
    "gentils": "gentils|bons|précieux|beaux|aimables",
}
