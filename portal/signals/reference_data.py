"""The reference lists of docs/domain.md B.2–B.4 and C (themes), with Dutch and English labels.

Loaded into the taxonomy table by ``flask portal taxonomy load`` (idempotent: adds missing codes, never overwrites
what an administrator edited). Each entry: (code, Dutch label, English label[, children]).
"""

from portal.signals.models import Vocabulary

CATEGORIES = [
    (
        "geweld",
        "Geweld",
        "Violence",
        [
            ("fysieke_agressie", "Fysieke agressie/mishandeling (vechtpartij)", "Physical aggression/assault (fight)"),
            ("groepsgeweld", "Groepsgeweld (incl. gefilmd geweld)", "Group violence (incl. filmed violence)"),
            ("straatroof", "Straatroof/beroving", "Street robbery"),
            ("afpersing", "Afpersing", "Extortion"),
            ("geweld_personeel", "Geweld tegen personeel", "Violence against staff"),
        ],
    ),
    (
        "bedreiging",
        "Bedreiging en intimidatie",
        "Threats and intimidation",
        [
            ("verbale_agressie", "Verbale agressie/belediging", "Verbal aggression/insult"),
            ("bedreiging", "Bedreiging (incl. bedreiging met de dood)", "Threat (incl. death threat)"),
            ("intimidatie", "Fysieke/non-verbale intimidatie", "Physical/non-verbal intimidation"),
            ("dreiging_school", "Dreiging tegen de school (online dreigement)", "Threat against the school (online)"),
        ],
    ),
    (
        "wapens",
        "Wapens",
        "Weapons",
        [
            ("steekwapen_wwm", "Steekwapen onder Wwm", "Stabbing weapon under the Weapons Act"),
            (
                "mes_overig",
                "Mes/steekvoorwerp buiten Wwm (APV-messenverbod)",
                "Knife outside the Weapons Act (knife ban)",
            ),
            ("vuurwapen", "Vuurwapen", "Firearm"),
            ("nepwapen", "Nep-/luchtdrukwapen", "Replica/air-pressure weapon"),
            ("wapen_overig", "Overig (boksbeugel, taser, pepperspray)", "Other (knuckle duster, taser, pepper spray)"),
            ("kluisjescontrole", "Wapen gevonden bij kluisjescontrole", "Weapon found in a locker check"),
        ],
    ),
    (
        "drugs",
        "Drugs en middelen",
        "Drugs and substances",
        [
            ("gebruik", "Gebruik (incl. alcohol, vapen, lachgas)", "Use (incl. alcohol, vaping, nitrous oxide)"),
            ("bezit", "Bezit", "Possession"),
            ("handel", "Handel/dealen", "Dealing"),
            ("ronselen", "Ronselen (drugsrunner/uithaler)", "Recruiting (drug runner/extractor)"),
        ],
    ),
    (
        "vuurwerk",
        "Vuurwerk",
        "Fireworks",
        [
            ("bezit", "Bezit", "Possession"),
            ("afsteken", "Afsteken", "Setting off"),
            ("handel", "Handel", "Trade"),
            ("illegaal", "Illegaal vuurwerk", "Illegal fireworks"),
        ],
    ),
    (
        "vermogen",
        "Vermogen en vernieling",
        "Property and vandalism",
        [
            ("diefstal", "Diefstal", "Theft"),
            ("vernieling", "Vernieling/vandalisme", "Vandalism"),
            ("brandstichting", "Brandstichting", "Arson"),
        ],
    ),
    (
        "seksueel",
        "Seksueel grensoverschrijdend gedrag",
        "Sexual misconduct",
        [
            ("intimidatie", "Seksuele intimidatie", "Sexual harassment"),
            ("geweld", "Seksueel geweld", "Sexual violence"),
            ("exposing", "Sexting-misbruik/exposing", "Sexting abuse/exposing"),
            ("sextortion", "Sextortion", "Sextortion"),
            ("uitbuiting", "Seksuele uitbuiting/loverboy/grooming", "Sexual exploitation/grooming"),
        ],
    ),
    (
        "online",
        "Online",
        "Online",
        [
            ("cyberpesten", "(Cyber)pesten", "(Cyber)bullying"),
            ("misbruik_sociale_media", "Misbruik sociale media", "Social media abuse"),
            ("online_conflict", "Online conflict/drill-gerelateerd", "Online conflict/drill-related"),
            ("cybercriminaliteit", "Cybercriminaliteit (oplichting, hacken)", "Cybercrime (fraud, hacking)"),
        ],
    ),
    ("pesten", "Pesten (grove pesterij)", "Bullying (severe)", []),
    (
        "discriminatie",
        "Discriminatie",
        "Discrimination",
        [
            ("racisme", "Racisme", "Racism"),
            ("lhbti", "LHBTI-gerelateerd", "LGBTI-related"),
            ("religie", "Religie", "Religion"),
            ("overig", "Overig", "Other"),
        ],
    ),
    (
        "radicalisering",
        "Radicalisering en polarisatie",
        "Radicalisation and polarisation",
        [
            ("zorgwekkend_gedrag", "Zorgwekkend/extreem gedrag", "Worrying/extreme behaviour"),
            ("extremistische_uitingen", "Extremistische uitingen", "Extremist expressions"),
        ],
    ),
    (
        "jeugdgroepen",
        "Jeugdgroepen en overlast",
        "Youth groups and nuisance",
        [
            (
                "overlast_bij_school",
                "Hinderlijk/overlastgevend groepsgedrag bij school",
                "Nuisance by a group near school",
            ),
            ("rivaliserende_groepen", "Rivaliserende groepen", "Rival groups"),
            ("intimiderende_groep", "Intimiderende groep bij in- of uitgang", "Intimidating group at the entrance"),
        ],
    ),
    ("ongewenst_bezoek", "Ongewenst bezoek in en rond de school", "Unwanted visitors in and around school", []),
    ("overig", "Overig", "Other", []),
]

FLAT_LISTS = {
    Vocabulary.LOCATION_TYPE: [
        ("in_schoolgebouw", "In het schoolgebouw", "Inside the school building"),
        ("schoolterrein", "Schoolterrein/schoolplein", "School grounds/schoolyard"),
        ("directe_schoolomgeving", "Directe schoolomgeving", "Immediate surroundings of the school"),
        ("route_ov", "Route van/naar school, OV", "Route to/from school, public transport"),
        ("stage_bpv", "Stage-/BPV-adres", "Work placement address"),
        ("online", "Online", "Online"),
        ("elders_in_wijk", "Elders in de wijk", "Elsewhere in the neighbourhood"),
        ("onbekend", "Onbekend", "Unknown"),
    ],
    Vocabulary.SEVERITY: [
        ("laag", "Laag (signaal/trend)", "Low (signal/trend)"),
        ("midden", "Midden (door school afgehandeld)", "Medium (handled by school)"),
        ("hoog", "Hoog (politie betrokken of aangifte)", "High (police involved or report filed)"),
        ("acuut", "Acuut (bel 112, niet het portaal)", "Acute (call 112, not the portal)"),
    ],
    Vocabulary.WEAPON_TYPE: [
        ("mes_wwm", "Mes (Wwm)", "Knife (Weapons Act)"),
        ("mes_overig", "Mes (overig)", "Knife (other)"),
        ("vuurwapen", "Vuurwapen", "Firearm"),
        ("nepwapen", "Nep-/luchtdrukwapen", "Replica/air-pressure weapon"),
        ("slagwapen", "Slag-/stootwapen", "Blunt weapon"),
        ("stroomstootwapen", "Stroomstootwapen", "Stun weapon"),
        ("pepperspray", "Pepperspray", "Pepper spray"),
        ("overig", "Overig", "Other"),
    ],
    Vocabulary.SCHOOL_MEASURE: [
        ("vastgelegd", "Vastgelegd", "Recorded"),
        ("ouders_geinformeerd", "Ouders geïnformeerd", "Parents informed"),
        ("gesprek_leerling", "Gesprek met leerling", "Talk with pupil"),
        ("disciplinaire_maatregel", "Disciplinaire maatregel", "Disciplinary measure"),
        ("schorsing_intern", "Interne schorsing", "Internal suspension"),
        ("schorsing_extern", "Externe schorsing", "External suspension"),
        ("time_out_rebound", "Time-out/rebound", "Time-out/rebound"),
        ("verwijdering_gestart", "Verwijderingsprocedure gestart", "Expulsion procedure started"),
        ("begeleiding_zorg", "Begeleiding/doorverwijzing zorg", "Support/referral to care"),
        ("melding_politie", "Melding politie", "Reported to police"),
        ("aangifte_gedaan", "Aangifte gedaan", "Criminal complaint filed"),
        ("vertrouwensinspecteur", "Vertrouwensinspecteur geraadpleegd", "Confidential inspector consulted"),
        ("meldcode", "Meldcode-stappen gestart", "Reporting code steps started"),
        ("kluisjescontrole", "Kluisjescontrole", "Locker check"),
    ],
    Vocabulary.PARTNER_INTERVENTION: [
        ("halt", "Halt-verwijzing", "Halt referral"),
        ("jco", "JCO besproken", "Discussed in JCO"),
        ("pga", "PGA/PGA 18min aangemeld", "Referred to PGA/PGA under-18"),
        ("topx", "TopX (ZVH)", "TopX (Care & Safety House)"),
        ("jit", "JIT-groepsaanpak", "JIT group approach"),
        ("bestuurlijke_waarschuwing", "Bestuurlijke waarschuwing ouders", "Administrative warning to parents"),
        ("last_onder_dwangsom", "Last onder dwangsom (messenverbod)", "Penalty order (knife ban)"),
        ("huisbezoek", "Huisbezoek", "Home visit"),
        ("extra_toezicht", "Extra toezicht jeugdboa/politie", "Extra supervision (youth boa/police)"),
        ("ambulant_jongerenwerk", "Ambulant jongerenwerk", "Outreach youth work"),
        ("voorlichting", "Voorlichting (Oké op School/Vitree)", "Awareness lessons (Oké op School/Vitree)"),
        ("positief_leefklimaat", "Training Positief Leefklimaat", "Positive school climate training"),
    ],
    Vocabulary.AGENDA_ITEM_KIND: [
        ("opening", "Opening/mededelingen", "Opening/announcements"),
        ("actielijst", "Actielijst vorige bijeenkomst", "Action list of the previous meeting"),
        ("trendbeeld_scholen", "Trendbeeld scholen", "Trends from schools"),
        ("politiebeeld", "Politiebeeld", "Police picture"),
        ("beeld_straat", "Beeld straat (jongerenwerk/jeugdboa)", "Street picture (youth work/youth boa)"),
        ("thema", "Thema", "Theme"),
        ("casuistiek", "Geanonimiseerde casuïstiek", "Anonymised cases"),
        ("afspraken", "Afspraken/handelingsperspectief", "Agreements/course of action"),
        ("rondvraag", "Rondvraag", "Any other business"),
        ("afsluiting", "Afsluiting", "Closing"),
    ],
    Vocabulary.THEME: [
        ("wapenbezit", "Wapenbezit", "Weapon possession"),
        ("online_drill", "Online conflicten/drill", "Online conflicts/drill"),
        ("sexting_exposing", "Sexting & exposing", "Sexting & exposing"),
        ("vapen_middelen", "Vapen/middelen", "Vaping/substances"),
        ("ronselen", "Ronselen/uithalers", "Recruiting/extractors"),
        ("radicalisering", "Radicalisering & polarisatie", "Radicalisation & polarisation"),
    ],
}
