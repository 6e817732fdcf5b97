"""Spanish phrases (the "tú" of colleagues). Topics carry their article and stand only
after words that need no contraction ("sobre", "para", "con")."""

LANGUAGE = "es"
REPLY_PREFIX = "Re: "
ATTRIBUTION = "El {date}, {name} escribió:"
MONTHS = "ene. feb. mar. abr. may. jun. jul. ago. sept. oct. nov. dic."
DAYS = "lun. mar. mié. jue. vie. sáb. dom."
DATE = "{weekday}, {day} {month} {year}, {time}"

OPENERS = (
    "Pregunta sobre",
    "Seguimiento:",
    "Novedades sobre",
    "Comentarios sobre",
    "Ideas para",
    "Notas sobre",
    "Próximos pasos para",
    "Opinión sobre",
    "Recordatorio:",
    "Borrador para",
    "Resumen:",
    "Duda rápida sobre",
    "Cifras para",
    "Agenda:",
    "Propuesta para",
    "Planificación:",
    "Dos preguntas sobre",
    "Última revisión:",
    "Info sobre",
    "Algunas notas sobre",
    "Calendario para",
    "Actualización:",
    "Ayuda con",
    "Revisión de",
    "Charla sobre",
    "Apunte sobre",
    "Observaciones sobre",
    "Aprobación:",
    "Pregunta rápida:",
    "A propósito de",
)
TOPIC_NOUNS = (
    "el presupuesto",
    "la presentación",
    "la campaña",
    "el presupuesto anual",
    "la encuesta",
    "el calendario",
    "la hoja de ruta",
    "el acta",
    "la formación",
    "la factura",
    "el taller",
    "el webinar",
    "el boletín",
    "el contrato",
    "la página de inicio",
    "el informe",
    "la reunión semanal",
    "el proyecto piloto",
    "la lista de tareas",
    "la feria",
    "el expediente",
    "el diseño",
    "el lanzamiento",
    "el caso de estudio",
    "la web",
    "la propuesta",
    "el panel de datos",
    "la entrevista",
    "la contratación",
    "la guía de estilo",
    "el balance",
    "la lista de precios",
    "el orden del día",
    "el manual",
    "la auditoría",
    "el catálogo",
    "el folleto",
    "el comunicado",
    "el calendario editorial",
    "la ficha de producto",
    "el cuestionario",
    "el vídeo",
    "la oferta",
    "el material",
    "la reunión de equipo",
)
TOPIC_SUFFIXES = (
    "",
    "",
    " del Q1",
    " del Q2",
    " del Q3",
    " del Q4",
    " 2027",
    " para el equipo",
    " del cliente",
    " (versión 2)",
    " de marzo",
    " de ventas",
    " de diciembre",
    " de enero",
    " (borrador)",
    " de socios",
    " 2026",
    " final",
)
QUALIFIERS = (
    "",
    "",
    "",
    " antes del viernes",
    " esta semana",
    " (breve)",
    " - punto rápido",
    " para el lunes",
    " (v2)",
    " - dos cosas",
    " la semana que viene",
    " - mis notas",
    " para el martes",
    " - pequeño cambio",
    " antes de la llamada",
    " (seguimiento)",
    " para el jueves",
    " (rápido)",
    " - tus ideas",
    " - una pregunta",
    " antes del lunes",
    " para la llamada",
    " (final)",
    " - algunas ideas",
    " para revisar",
    " - estado",
    " para el miércoles",
    " - antes del viernes",
    " (actualizado)",
    " - decisión",
)
ROLES = (
    "Jefa de proyecto",
    "Ventas",
    "Marketing",
    "Atención al cliente",
    "Dirección",
    "Compras",
    "Contabilidad",
    "Responsable de equipo",
    "Recursos humanos",
    "Producto",
    "Consultoría",
    "Administración",
)

GRAMMAR = {
    "greeting": "Hola {name},|Buenos días {name},|Hola {name}:|Buenas tardes {name},"
    "|Qué tal {name},|Hola de nuevo {name},|Hola otra vez {name},",
    "warm": "{hope} {period_ok}.|{thanks_for} {recent}.|{quick_one} {from_me}.",
    "hope": "Espero que|Ojalá que|Confío en que|Espero de verdad que|Supongo que"
    "|Me imagino que|Deseo que",
    "period_ok": "tu semana vaya {well}|el {day} haya ido {well}|todo vaya {well}"
    "|hayas tenido un {good} fin de semana|estés {well}|el equipo esté {well}"
    "|hayas descansado {algo}|tu {day} sea {well2}",
    "well": "bien|tranquilo|muy bien|genial",
    "good": "buen|gran|muy buen|estupendo|tranquilo",
    "thanks_for": "Gracias por|Muchas gracias por|Gracias otra vez por|Mil gracias por",
    "recent": "tu mensaje {when}|la llamada {when}|las notas {when}|la respuesta rápida"
    "|tu ayuda {when}|la reunión {when}",
    "when": "de ayer|de la semana pasada|del {day}|de esta mañana|del otro día"
    "|del {day} por la tarde"
    "|de hoy|de anoche",
    "day": "lunes|martes|miércoles|jueves|viernes",
    "quick_one": "Solo una breve|Una pequeña|Una rápida|Una simple",
    "from_me": "nota|nota rápida|pregunta para ti|actualización|consulta|petición",
    "question": "¿{ask} {topic} {timing}?|¿{is_there} {news} para {topic}?"
    "|¿{who_knows} {topic_fact}?",
    "ask": "Podrías revisar|Tienes tiempo de mirar|Me puedes mandar tus notas sobre"
    "|Podrías comprobar|Puedes aprobar|Me echas una mano con",
    "timing": "esta semana|antes del {day}|para el {day}|cuando tengas un momento"
    "|en los próximos días|antes de nuestra llamada|a tu vuelta|hoy mismo",
    "is_there": "Hay|Tenemos|Tienes|Sabes si hay|Existe ya|Te llegó|Has visto",
    "news": "novedades|una fecha|cifras nuevas|comentarios|una decisión|una versión nueva",
    "who_knows": "Sabes|Te acuerdas de|Puedes mirar|Tienes idea de",
    "topic_fact": "quién aprobó {topic}|cuándo vence {topic}|dónde está {topic}"
    "|qué cambió con {topic}|quién lleva {topic}",
    "wonder": "{i_wonder} si deberíamos {action} {topic}.|{i_wonder} si {topic} todavía"
    " necesita {need}.",
    "i_wonder": "Me pregunto|No tengo claro|Estoy pensando|Quería saber",
    "need": "otra revisión|una segunda opinión|más tiempo|un responsable claro|menos pasos"
    "|un resumen|cifras nuevas",
    "action": "simplificar|dividir|revisar|terminar|probar|documentar|acortar|aplazar",
    "update": "{status_lead} {topic} {status_is} {status_state}.|{i_have} {done} {artefact}"
    " {where}.",
    "status_lead": "Breve actualización:|Para que lo sepas,|Buenas noticias:|Como te dije,"
    "|Te cuento:|Un apunte rápido:",
    "status_is": "ya está|ahora está|por fin está|está|sigue|hoy está|de momento está"
    "|otra vez está",
    "status_state": "en buen camino|en revisión|al día|pendiente de una respuesta"
    "|con retraso|más simple que antes|a tiempo|en marcha para el {day}",
    "i_have": "He|Hemos|Esta mañana he|Ayer hemos|Acabo de",
    "done": "actualizado|ordenado|compartido|reescrito|revisado|movido|recortado|completado",
    "artefact": "la primera parte|los puntos abiertos|las cifras|el resumen|la segunda sección"
    "|la introducción|los nombres|la última parte|el anexo|las fechas",
    "where": "en la carpeta {comun}|en el documento|en nuestra página|en el tablero|como hablamos"
    "|para el equipo|en la última versión|en el borrador",
    "scheduling": "¿{could_we} {meet} {slot_time}?|{i_am} {free} {slot_time}, {if_that}.",
    "could_we": "Podemos|Podríamos|Te parece|Quieres|Te viene bien",
    "meet": "hablar|vernos|hacer una llamada|tomar un café|repasarlo|hablar un rato",
    "slot_time": "el {day} a las {hour}|el {day} {franja}|el {day} hacia las {hour}"
    "|más tarde el {day}"
    "|el próximo {day}|el {day} antes de las {hour}|el {day} después de las {hour}",
    "hour": "9:00|9:30|10:00|10:30|11:00|12:00|16:00|16:30|17:00",
    "i_am": "Estoy|Estaré|Estamos|Debería estar|Seguramente estaré|Voy a estar|Creo que estaré",
    "free": "libre|disponible|localizable|en la oficina|conectado|por aquí|en casa|de vuelta",
    "if_that": "si {eso2} te {va2}|si es {mas_facil}|si te ayuda|si te viene bien|si quieres"
    "|si hace falta|si lo prefieres",
    "thanks": "{thank} {for_what}{amp}.",
    "thank": "Muchas gracias|Gracias|Mil gracias|Gracias de nuevo|Te lo agradezco mucho"
    "|Te agradezco mucho|Gracias de verdad"
    "|Muchísimas gracias|Gracias otra vez|Infinitas gracias",
    "for_what": "por {ayuda} {topic}|por {el_x} {when}|por {el_x}",
    "amp": "|, {fue} {elogio}|. {fue_cap} {elogio}",
    "note": "{note_open} {someone} {asked} por {topic}.|{note_open} {estare} {away} {when2}."
    "|{note_open} {topic} {status_is} {status_state}.",
    "note_open": "Un aviso:|Otra cosa:|Por cierto,|De paso,|Antes de que se me olvide,"
    "|Un detalle:|Ah, y|Posdata:|Para que conste,|Antes de olvidarlo,|Antes de que se me pase,"
    "|Ya que estamos,|Una cosa más:",
    "someone": "una compañera|nuestro jefe|alguien de contabilidad|un cliente"
    "|el equipo de diseño|un socio nuevo",
    "asked": "preguntó|me preguntó|quería saber|se interesó",
    "away": "fuera de la oficina|desconectado|de viaje|en un taller|de vacaciones|en reuniones"
    "|con un cliente|en otra sede",
    "when2": "el {day}|el próximo {day}|casi todo el {day}|el {day} por la mañana|desde el {day}"
    "|hasta el {day}",
    "writeup": "{seq} {we_should} {action} {topic}, {because} {reason}.",
    "seq": "Primero,|Después,|Luego|Además,|Por último,|En resumen,|También",
    "we_should": "deberíamos|yo intentaría|podríamos|propongo",
    "because": "porque|ya que|dado que",
    "reason": "el plazo es {when3}|nos lo preguntan a menudo|ahorra tiempo"
    "|las cifras cambiaron|nadie se encarga todavía|ya está a medias",
    "ask_back": "{let_me_know} {lmk_what}.|{no_rush} {no_rush_b}{no_rush_tail}.",
    "let_me_know": "Dime|Avísame|Cuéntame|Escríbeme|Confírmame|Me dices",
    "lmk_what": "qué {opinas} {de_x}|si {eso_x} {te_va}|si necesitas {mas_x}|cómo {seguimos}"
    " {con_x}",
    "no_rush": "Sin prisa|No corre prisa|Nada urgente|Tómate tu tiempo|Tranquilo|Sin presión",
    "no_rush_tail": "|, {later_ok}|. {later_ok_cap}",
    "reply": "{thanks_short} {for_reply}{amp}.|{agree} {reply_plan}.|{one_q} ¿{q_reply}?"
    "|{i_am} {free} {slot_time}, {if_that}.",
    "thanks_short": "Gracias|Muchas gracias|Mil gracias|Genial, gracias|Perfecto, gracias",
    "for_reply": "por el {msg_es}|por {tu_x}|por {enviar} {lo_x}|por el {recordatorio} {when}",
    "agree": "Me parece bien,|Perfecto,|De acuerdo,|Buena idea,|Entendido,|Vale,",
    "reply_plan": "lo {miro} {when3}|seguimos como estaba previsto|te mando {artefact} {when3}"
    "|cuenta conmigo|me encargo de {artefact}",
    "when3": "hoy|mañana|antes del {day}|el {day}|esta tarde|esta semana",
    "one_q": "Una pregunta:|Una comprobación:|Solo para confirmar:|Antes de empezar:"
    "|Una duda:|Por cierto:|Para estar seguro:",
    "q_reply": "te sigue valiendo el {day}|lo necesitas para el {day}|pongo en copia {someone_a}"
    "|sigue {valiendo} {version}|quién más debería {ver} {eso3}",
    "signoff": "Un saludo,|Saludos,|Gracias y un saludo,|Hasta pronto,|Un abrazo,"
    "|Saludos cordiales,|Buen día,|Nos vemos,",
    "opinas": "opinas|piensas|cambiarías|quitarías|añadirías",
    "de_x": "del borrador|de la idea|del plan|de mis notas|de la lista|de todo esto",
    "eso_x": "eso|la fecha|el orden|el plan|la cifra|la versión|el formato",
    "te_va": "te va bien|te sirve|te encaja|funciona|te parece bien|vale así",
    "mas_x": "más detalles|más tiempo|ejemplos|cifras|contexto|una plantilla",
    "seguimos": "seguimos|avanzamos|lo organizamos|empezamos|lo hacemos",
    "con_x": "con esto|a partir de ahí|el {day}|después|con el plan|desde aquí",
    "no_rush_b": "con esto|de verdad|por ahora|para nada|por mi parte|aquí",
    "later_ok": "cuando puedas|el {day} está bien|puede esperar al {day}"
    "|después del {day} sirve|cualquier día vale",
    "later_ok_cap": "El {day} está bien|La semana que viene vale|Cualquier día sirve"
    "|Más tarde vale",
    "fue": "fue|ha sido|es|todo fue|sin duda fue",
    "fue_cap": "Fue|Ha sido|Todo fue|Sin duda fue",
    "elogio": "perfecto|una gran ayuda|muy amable|muy oportuno|un alivio|genial|muy útil|estupendo",
    "ayuda": "la ayuda con|el trabajo en|tu mirada sobre|las ideas para|tus notas sobre"
    "|tu opinión sobre",
    "el_x": "tu tiempo|la respuesta {rapida}|tus palabras|tu paciencia|el recordatorio"
    "|tus comentarios",
    "eso2": "eso|la hora|ese hueco|el día|el formato",
    "va2": "va bien|sirve|viene mejor|encaja|cuadra",
    "mas_facil": "más fácil|más práctico|mejor para ti|más cómodo|posible",
    "valiendo": "valiendo|vigente|siendo válida|al día|en pie",
    "version": "la versión anterior|el último borrador|la versión corta|el archivo del {day}"
    "|la segunda opción|la copia compartida",
    "ver": "ver|revisar|recibir|aprobar|leer",
    "eso3": "esto|el borrador|las cifras|las notas|la lista|el resumen",
    "algo": "algo|un poco|bien|lo suficiente|este finde",
    "well2": "tranquilo|productivo|agradable|llevadero|bueno",
    "estare": "estaré|voy a estar|seguramente estaré|probablemente estaré|igual estoy",
    "rapida": "rápida|tan rápida|clara|detallada|amable|de ayer",
    "someone_a": "a una compañera|a nuestro jefe|a alguien de contabilidad|a un cliente"
    "|al equipo de diseño|a un socio nuevo|a dirección|al equipo",
    "msg_es": "mensaje|resumen|enlace|detalle|aviso|dato",
    "tu_x": "tu respuesta {rapida}|tu nota|tu revisión|tu confirmación",
    "franja": "después de comer|por la mañana|a primera hora|a mediodía|por la tarde|a última hora"
    "|antes de comer",
    "miro": "miro|reviso|leo|comento|preparo|cierro",
    "enviar": "enviar|compartir|mandar|reenviar|revisar|preparar",
    "lo_x": "esto|el archivo|las notas|el enlace|los datos|la lista",
    "recordatorio": "recordatorio|aviso|resumen|correo|mensaje",
    "comun": "compartida|del equipo|de siempre|nueva|del proyecto",
}
