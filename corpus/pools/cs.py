"""Czech sentence pools and identity data. ``[m|f]`` picks the writer's grammatical gender."""

from __future__ import annotations

PEOPLE_M = [("Jan", "Novák"), ("Petr", "Svoboda"), ("Tomáš", "Dvořák"), ("Martin", "Černý"), ("Jiří", "Procházka"),
            ("Pavel", "Kučera"), ("Lukáš", "Veselý"), ("Jakub", "Horák"), ("Ondřej", "Němec"), ("Michal", "Marek")]
PEOPLE_F = [("Jana", "Nováková"), ("Petra", "Svobodová"), ("Lucie", "Dvořáková"), ("Kateřina", "Černá"),
            ("Eva", "Procházková"), ("Tereza", "Kučerová"), ("Markéta", "Veselá"), ("Hana", "Horáková"),
            ("Zuzana", "Němcová"), ("Lenka", "Marková")]
STREETS = ["Korunní", "Husova", "Palackého", "Nádražní", "Masarykova", "Žižkova", "Komenského", "Lidická",
           "Štefánikova", "Jiráskova"]
CITIES = [("Praha 2", "120 00"), ("Brno", "602 00"), ("Ostrava", "702 00"), ("Plzeň", "301 00"),
          ("Olomouc", "779 00"), ("Liberec", "460 01"), ("České Budějovice", "370 01"),
          ("Hradec Králové", "500 02"), ("Pardubice", "530 02"), ("Zlín", "760 01")]
COMPANIES = ["Stavby Horák s.r.o.", "Účetnictví Plus s.r.o.", "Pekárna U Mostu s.r.o.", "Autodíly Kučera a.s.",
             "Zahradnictví Zelený ráj s.r.o."]
LAW_FIRMS = ["Advokátní kancelář Novák & partneři", "Advokátní kancelář Justitia s.r.o.",
             "Advokátní kancelář Mgr. Veselý"]
LAWYER_TITLE = ["JUDr.", "Mgr.", "JUDr. Ing."]
OPERATORS = [
    ["Telewave Česko s.r.o.", "Zákaznické centrum", "P. O. Box 51", "130 11 Praha 3"],
    ["Telewave Česko s.r.o.", "Oddělení reklamací", "Vinohradská 167", "100 00 Praha 10"],
    ["Vltava Net a.s.", "Péče o zákazníky", "Na Pankráci 1685", "140 00 Praha 4"],
]
DONORS = ["Modrá Mobil", "Čechfon", "Vlna GSM"]
TARIFFS = ["Neomezeně 5G", "Rodina Plus", "Optika 500", "Firma Komplet", "Data 50 GB"]
CASE_NO = ["12 C {n}/2026", "23 C {n}/2025", "15 EXE {n}/2026"]
PLACE_DATE = ["{city}, {date}", "{city} {date}", "{city}, dne {date}"]
LABELS = {
    "customer_id": ["Číslo zákazníka:", "Zákaznické číslo:", "Číslo zákazníka"],
    "invoice_no": ["Faktura č.", "Číslo faktury:"],
    "phone": ["tel.", "Tel.:", "telefon:"],
    "email": ["e-mail:", "E-mail:"],
    "pesel": [],
    "business_id": ["IČO:", "IČO"],
    "client": ["Klient:", "Mandant:"],
    "case_no": ["Sp. zn.:", "Spisová značka:"],
}
ENCLOSURES = ["Přílohy:", "Příloha:"]

COMMON = {
    "salutation": ["Vážení,", "Dobrý den,", "Vážená paní, vážený pane,", "Vážení zástupci společnosti,"],
    "opening": [
        "obracím se na Vás jako zákazn[ík|ice] s číslem {customer_id}.",
        "píši Vám ve věci své smlouvy o poskytování služeb (číslo zákazníka {customer_id}).",
        "jsem Vaším zákazn[íkem|icí] již několik let a dosud jsem neměl[|a] důvod ke stížnostem.",
        "tímto dopisem se na Vás obracím ve věci služeb poskytovaných na čísle {phone}.",
        "využívám Vaše služby na základě smlouvy, číslo zákazníka {customer_id}.",
        "kontaktuji Vás v souvislosti se službami na telefonním čísle {phone}.",
    ],
    "business_intro": [
        "Jménem společnosti {company} (IČO {ico}) se na Vás obracím s následující záležitostí.",
        "Jako osoba oprávněná jednat za společnost {company}, IČO: {ico}, uvádím následující.",
        "Píši za společnost {company} (IČO {ico}), která využívá Vaše firemní služby.",
        "Za firmu {company}, IČO {ico}, Vám sděluji následující.",
    ],
    "closing": [
        "Prosím o písemnou odpověď na výše uvedenou adresu.",
        "Předem děkuji za rychlé vyřízení.",
        "Odpověď prosím zašlete na e-mail {email}.",
        "V případě dotazů jsem k zastižení na telefonu {phone}.",
        "Věřím, že záležitost vyřešíte k mé spokojenosti.",
        "Prosím o kontakt telefonicky na čísle {phone} nebo e-mailem.",
    ],
    "signoff": ["S pozdravem", "S úctou", "Děkuji a zdravím", "S přátelským pozdravem"],
    "email_cover": [
        "Dobrý den,\nv příloze posílám dopis ve své záležitosti.\nS pozdravem\n{name}",
        "Vážení,\nprosím o vyřízení přiloženého dopisu.\nDěkuji\n{name}",
        "Dobrý den,\nzasílám sken podepsaného dopisu.\n{name}",
        "Dobrý den,\nv příloze je moje žádost, prosím o potvrzení přijetí.\n{name}",
    ],
}

CATEGORIES: dict[str, dict[str, list[str]]] = {
    "complaint": {
        "subject": ["Reklamace faktury {invoice_no}", "Reklamace služby elektronických komunikací",
                    "Reklamace – chybné vyúčtování", "Reklamace vyúčtování za {period}"],
        "request": [
            "Tímto reklamuji fakturu č. {invoice_no} na částku {amount}, protože obsahuje poplatky za služby, "
            "které jsem si neobjednal[|a].",
            "Podávám reklamaci účtování poplatku ve výši {amount} za prémiové SMS, které jsem nikdy "
            "nevyužil[|a].",
            "Reklamuji vyúčtování {invoice_no} ze dne {date_inv}: částka {amount} je výrazně vyšší, než odpovídá "
            "mé smlouvě.",
            "Reklamuji nefunkční připojení k internetu v období od {date_from} do {date_to} a žádám o "
            "přiměřenou slevu.",
            "Podávám reklamaci a žádám o opravu faktury {invoice_no} a vrácení přeplatku {amount}.",
            "V souladu se zákonem o elektronických komunikacích reklamuji poplatky za roaming uvedené na faktuře "
            "{invoice_no}.",
        ],
        "detail": [
            "Podle smlouvy činí můj měsíční paušál {amount2}, přesto mi byla vyúčtována mnohem vyšší částka.",
            "Problém jsem již {date_event} hlásil[|a] na zákaznické lince, ale dosud jsem nedostal[|a] odpověď.",
            "Rozdíl prosím vraťte na můj bankovní účet {iban}.",
            "Pracovník na prodejně mě ujistil, že služba je po celou dobu smlouvy zdarma.",
            "Po celou dobu jsem své faktury platil[|a] řádně a včas, proto považuji poplatky za neoprávněné.",
            "K dopisu přikládám kopii faktury a snímky obrazovky z aplikace.",
        ],
        "ending": ["Očekávám vyřízení reklamace v zákonné lhůtě.",
                   "Pokud reklamaci nevyhovíte, zvážím další postup.",
                   "Prosím o písemné potvrzení přijetí reklamace.",
                   "Žádám o opravné vyúčtování."],
    },
    "invoice_query": {
        "subject": ["Dotaz k faktuře {invoice_no}", "Žádost o kopii faktury", "Elektronická faktura – dotaz",
                    "Vysvětlení položky ve vyúčtování"],
        "request": [
            "Prosím o vysvětlení položky „ostatní poplatky“ na faktuře {invoice_no}.",
            "Prosím o zaslání kopie faktury {invoice_no}, protože originál se mi ztratil.",
            "Rád[|a] bych přeš[el|la] na elektronickou fakturu zasílanou na adresu {email}.",
            "Nerozumím, proč se částka na faktuře {invoice_no} liší od předchozího měsíce. Prosím o podrobný "
            "rozpis.",
            "Prosím o zaslání kopií faktur za poslední tři měsíce, které potřebuji pro účetnictví.",
            "Můžete mi prosím vysvětlit, za jaké období byla vyúčtována částka {amount} na posledním vyúčtování?",
        ],
        "detail": [
            "Samotnou platbu nezpochybňuji, jde mi jen o pochopení vyúčtování.",
            "Faktura byla vystavena {date_inv} na částku {amount}.",
            "V zákaznické aplikaci tento doklad nevidím a pro účetní jej potřebuji ve formátu PDF.",
            "Na předchozích fakturách se tato položka neobjevovala.",
            "Fakturu prosím vystavte na údaje uvedené v záhlaví dopisu.",
            "Splatnost faktury je {date_due}, proto prosím o rychlou odpověď.",
        ],
        "ending": ["Předem děkuji za vysvětlení.", "Prosím o odpověď elektronicky.",
                   "Děkuji za pomoc v této záležitosti.", "Doklady prosím zašlete poštou."],
    },
    "payment": {
        "subject": ["Potvrzení o platbě", "Žádost o splátkový kalendář", "Vrácení přeplatku",
                    "Žádost o odklad splatnosti"],
        "request": [
            "V příloze zasílám potvrzení o platbě ze dne {date_pay} na částku {amount} k faktuře {invoice_no}.",
            "Žádám o rozložení dlužné částky {amount} do čtyř měsíčních splátek.",
            "Žádám o vrácení přeplatku ve výši {amount} na můj bankovní účet {iban}.",
            "Z důvodu přechodných finančních potíží žádám o odklad splatnosti faktury {invoice_no} do {date_due}.",
            "Sděluji, že faktura {invoice_no} byla uhrazena {date_pay}, přesto jsem obdržel[|a] upomínku.",
            "Omylem jsem tutéž fakturu zaplatil[|a] dvakrát a žádám o vrácení částky {amount}.",
        ],
        "detail": [
            "Platba byla odepsána z mého účtu, jak dokládá přiložený výpis.",
            "Číslo mého účtu pro vrácení: {iban}.",
            "Zavazuji se, že budu další faktury platit včas.",
            "Platbu jsem odeslal[|a] s variabilním symbolem uvedeným na faktuře.",
            "Moje finanční situace je nyní obtížná kvůli ztrátě zaměstnání.",
            "Prosím o spárování platby a zastavení dalších upomínek.",
        ],
        "ending": ["Prosím o potvrzení zaúčtování platby.", "Věřím v kladné vyřízení žádosti.",
                   "Prosím o informaci o aktuálním zůstatku.", "Děkuji za pochopení."],
    },
    "cancellation": {
        "subject": ["Výpověď smlouvy", "Zrušení služby", "Ukončení smlouvy o poskytování služeb",
                    "Zrušení televizního balíčku"],
        "request": [
            "Tímto vypovídám smlouvu o poskytování služeb elektronických komunikací k číslu {phone}.",
            "Oznamuji, že ke dni {date_end} ruším službu připojení k internetu.",
            "Žádám o ukončení smlouvy ke dni skončení akční nabídky, tj. {date_end}.",
            "Vypovídám smlouvu na televizní službu, protože se stěhuji do zahraničí.",
            "Nemám zájem o další využívání Vašich služeb a žádám o zrušení zákaznického účtu {customer_id}.",
            "Tímto dopisem navrhuji ukončení smlouvy dohodou ke dni {date_end}.",
        ],
        "detail": [
            "Zapůjčený router a set-top box vrátím na nejbližší prodejně.",
            "Prosím o sdělení, zda mi v souvislosti s výpovědí vzniknou nějaké poplatky.",
            "Důvodem je stěhování do obce, kde Vaše služby nejsou dostupné.",
            "Případný přeplatek prosím vraťte na účet {iban}.",
            "O retenční nabídku nemám zájem.",
            "Prosím o zaslání konečného vyúčtování.",
        ],
        "ending": ["Prosím o písemné potvrzení ukončení smlouvy.", "Prosím o potvrzení data ukončení služeb.",
                   "Děkuji za dosavadní spolupráci.", "Prosím, nekontaktujte mě s dalšími nabídkami."],
    },
    "service_order": {
        "subject": ["Objednávka služby", "Změna tarifu", "Aktivace doplňkového balíčku",
                    "Objednávka optického internetu"],
        "request": [
            "Prosím o změnu mého tarifu na {tariff} od příštího zúčtovacího období.",
            "Rád[|a] bych si objednal[|a] optický internet na adrese {address}.",
            "Prosím o aktivaci roamingového balíčku na čísle {phone} od {date_start}.",
            "Objednávám další SIM kartu v rámci stávající smlouvy s tarifem {tariff}.",
            "Prosím o aktivaci sportovního televizního balíčku na mém účtu {customer_id}.",
            "Mám zájem o prodloužení smlouvy a přechod na tarif {tariff} s novým telefonem.",
        ],
        "detail": [
            "Můj současný paušál ve výši {amount} mi již nevyhovuje.",
            "Podle nabídky na Vašem webu činí měsíční poplatek {amount}.",
            "Instalaci prosím naplánujte na pracovní den po 16. hodině.",
            "Souhlasím se zasláním smlouvy elektronicky na adresu {email}.",
            "Prosím o informaci, zda je nutná návštěva technika.",
            "Pokud je to možné, chtěl[|a] bych, aby změna platila od {date_start}.",
        ],
        "ending": ["Prosím o potvrzení objednávky.", "Očekávám Váš kontakt ohledně termínu instalace.",
                   "Děkuji a těším se na aktivaci.", "Prosím o zaslání smluvních podmínek před aktivací."],
    },
    "fault_report": {
        "subject": ["Nahlášení poruchy", "Nefunkční internet", "Porucha telefonní služby",
                    "Vadný router – žádost o opravu"],
        "request": [
            "Hlásím poruchu: od {date_event} nefunguje internet na adrese {address}.",
            "Z mého čísla {phone} již několik dní nelze volat ani přijímat hovory.",
            "Router, který jsem od Vás dostal[|a], se sám restartuje a připojení několikrát denně vypadává.",
            "Žádám o urychlené odstranění závady a výjezd technika, protože rychlost internetu je mnohem nižší, "
            "než stanoví smlouva.",
            "Set-top box již několik dní hlásí ztrátu signálu a nemohu sledovat televizi.",
            "Můj telefon {phone} nemá doma signál, přestože dříve vše fungovalo bez problémů.",
        ],
        "detail": [
            "Zařízení jsem několikrát restartoval[|a] podle pokynů z linky podpory, ale bez výsledku.",
            "Poruchu jsem nahlásil[|a] telefonicky {date_event}, technik však nepřijel.",
            "Pracuji z domova, takže bez připojení nemohu vykonávat svou práci.",
            "Kontrolka na routeru svítí červeně.",
            "Kontakt pro domluvu návštěvy technika: {phone2}.",
            "Sousedé připojení ke stejné síti mají stejný problém.",
        ],
        "ending": ["Prosím o co nejrychlejší odstranění poruchy.", "Prosím o stanovení termínu návštěvy technika.",
                   "Čekám na informaci o termínu opravy.", "Prosím o urgentní kontakt."],
    },
    "data_change": {
        "subject": ["Změna údajů", "Změna korespondenční adresy", "Aktualizace kontaktních údajů",
                    "Změna čísla bankovního účtu"],
        "request": [
            "Prosím o změnu korespondenční adresy na: {address}.",
            "Oznamuji změnu příjmení a prosím o aktualizaci údajů ve smlouvě.",
            "Prosím o změnu kontaktního telefonního čísla na {phone2}.",
            "Prosím o změnu e-mailové adresy pro kontakt a zasílání faktur na {email_new}.",
            "Změnil[|a] jsem banku, a proto prosím o zadání nového čísla účtu {iban} pro vratky.",
            "Prosím o aktualizaci mých osobních údajů podle níže uvedených informací.",
        ],
        "detail": [
            "Dosavadní adresa již od {date_event} neplatí.",
            "Přikládám kopii oddacího listu dokládající změnu příjmení.",
            "Ostatní údaje zůstávají beze změny.",
            "Nová adresa pro doručování: {address}.",
            "Staré telefonní číslo {phone} již nebudu používat.",
            "Změna by měla platit od nejbližšího vyúčtování.",
        ],
        "ending": ["Prosím o potvrzení provedení změn.", "Děkuji za aktualizaci údajů.",
                   "Korespondenci prosím zasílejte pouze na novou adresu.", "V případě nejasností mě kontaktujte."],
    },
    "number_porting": {
        "subject": ["Přenesení čísla", "Žádost o přenesení čísla do sítě", "Přenos čísla k jinému operátorovi",
                    "Termín přenesení čísla"],
        "request": [
            "Žádám o přenesení mého čísla {phone} od operátora {donor} do Vaší sítě.",
            "Podávám žádost o přenesení čísla {phone} k operátorovi {donor} se zachováním čísla.",
            "Rád[|a] bych k Vám přenesl[|a] číslo {phone} v rámci nabídky s tarifem {tariff}.",
            "Prosím o vydání ověřovacího kódu pro přenesení čísla {phone} k jinému operátorovi.",
            "Přenesení čísla bylo naplánováno na {date_port}, ale číslo dosud v nové síti nefunguje.",
            "Žádám o přenesení čísla {phone} od dosavadního poskytovatele {donor}.",
        ],
        "detail": [
            "Smlouvu se stávajícím operátorem jsem vypověděl[|a] ke dni {date_port}.",
            "Plnou moc k provedení přenosu přikládám k dopisu.",
            "Záleží mi na tom, aby výpadek čísla byl co nejkratší.",
            "Číslo je registrováno na mé jméno.",
            "Prosím o informaci, kdy obdržím novou SIM kartu.",
            "Přenesení by mělo proběhnout nejpozději {date_port}.",
        ],
        "ending": ["Prosím o potvrzení termínu přenesení.", "Očekávám informaci o průběhu přenosu.",
                   "Prosím o urychlené vyřízení.", "Děkuji za hladký průběh přenesení."],
    },
    "legal": {
        "subject": ["Předžalobní výzva k zaplacení", "Oznámení o podání žaloby",
                    "Výzva k ukončení vymáhání pohledávky", "Stížnost u ČTÚ – oznámení"],
        "opening": [
            "naše advokátní kancelář zastupuje [výše uvedeného klienta|výše uvedenou klientku] na základě plné "
            "moci, jejíž kopii přikládáme.",
            "jako právní zástupci [Vašeho zákazníka|Vaší zákaznice] uvedené[ho|] v záhlaví se na Vás obracíme "
            "v následující věci.",
            "tento dopis Vám zasíláme jménem [našeho klienta|naší klientky], zákazn[íka|ice] s číslem "
            "{customer_id}.",
            "obracíme se na Vás jako zmocněnci ve věci popsané níže.",
        ],
        "request": [
            "Jménem [našeho klienta|naší klientky] Vás vyzýváme k zaplacení částky {amount} do 7 dnů od doručení "
            "této výzvy.",
            "Oznamujeme, že jsme jménem [našeho klienta|naší klientky] podali žalobu k okresnímu soudu; věc je "
            "vedena pod spisovou značkou {case_no}.",
            "Vyzýváme Vás k ukončení vymáhání údajné pohledávky z faktury {invoice_no}, kterou jste bez právního "
            "důvodu postoupili inkasní agentuře.",
            "Oznamujeme, že ve věci [našeho klienta|naší klientky] byla podána stížnost k Českému "
            "telekomunikačnímu úřadu.",
            "Jménem [našeho klienta|naší klientky] žádáme o výmaz záznamu z registru dlužníků týkajícího se "
            "částky {amount}.",
            "Exekutor vede na Váš návrh exekuci proti [našemu klientovi|naší klientce], přestože částka {amount} "
            "byla uhrazena {date_pay}.",
        ],
        "detail": [
            "Vymáhaná pohledávka je promlčená.",
            "[Náš klient|Naše klientka] reklamoval[|a] fakturu {invoice_no}, reklamace však zůstala bez odpovědi.",
            "Originál plné moci přikládáme k tomuto dopisu.",
            "Pokud ve stanovené lhůtě neodpovíte, obrátíme se na soud bez dalšího upozornění.",
            "Kopii této korespondence zasíláme na vědomí České obchodní inspekci.",
            "Uvedená částka zahrnuje jistinu a zákonný úrok z prodlení od {date_event}.",
        ],
        "ending": ["Žádáme o kontakt s kanceláří za účelem smírného řešení.",
                   "Veškerou korespondenci prosíme zasílejte na adresu kanceláře.",
                   "Očekáváme Vaši odpověď do 14 dnů.",
                   "Žádáme o zaslání kompletní dokumentace včetně nahrávek hovorů."],
    },
    "gdpr_request": {
        "subject": ["Žádost o přístup k osobním údajům", "Žádost o výmaz osobních údajů (GDPR)",
                    "Oprava osobních údajů", "Žádost podle čl. 15 GDPR"],
        "request": [
            "Podle čl. 15 GDPR žádám o informaci, jaké mé osobní údaje zpracováváte a za jakým účelem.",
            "Žádám o výmaz svých osobních údajů podle čl. 17 GDPR, protože již nejsem Vaším "
            "zákazn[íkem|icí].",
            "Žádám o poskytnutí kopie všech mých osobních údajů včetně nahrávek hovorů se zákaznickou linkou.",
            "Podle čl. 16 GDPR žádám o opravu nesprávných osobních údajů vedených ve Vašem systému.",
            "Vznáším námitku proti zpracování mých údajů pro marketingové účely a žádám o jejich vymazání.",
            "Žádám o sdělení, komu byly mé osobní údaje zpřístupněny, zejména zda byly předány inkasním "
            "agenturám.",
        ],
        "detail": [
            "Moje identifikace: číslo zákazníka {customer_id}, telefon {phone}.",
            "Odpověď prosím zašlete na e-mail {email}.",
            "Připomínám, že na vyřízení žádosti máte jeden měsíc od jejího obdržení.",
            "Smlouvu jsem ukončil[|a] {date_end} a od té doby Vaše služby nevyužívám.",
            "Stále dostávám reklamní SMS na číslo {phone}, ačkoli jsem k tomu nedal[|a] souhlas.",
            "Ve Vašem systému je uvedeno chybné datum narození a stará adresa.",
        ],
        "ending": ["Prosím o potvrzení vyřízení žádosti.",
                   "Pokud neodpovíte, podám stížnost k Úřadu pro ochranu osobních údajů.",
                   "Informace prosím zašlete elektronicky.", "Děkuji za vyřízení žádosti."],
    },
    "other": {
        "subject": ["Poděkování", "Odpověď na nabídku", "Dotaz", "Hodnocení obsluhy"],
        "request": [
            "Rád[|a] bych poděkoval[|a] pracovnici prodejny v obchodním centru za profesionální a trpělivý "
            "přístup.",
            "V odpovědi na Váš leták sděluji, že o nabídku televize momentálně nemám zájem.",
            "Obracím se na Vás s dotazem, zda Vaše společnost podporuje místní sportovní akce, například "
            "turnaje mládeže.",
            "Prosím o informaci o otevírací době prodejny v mém městě během vánočních svátků.",
            "Rád[|a] bych se ucházel[|a] o místo operátora ve Vašem zákaznickém centru.",
            "Píši, abych pochválil[|a] techniky, kteří u mě včera prováděli instalaci.",
        ],
        "detail": [
            "Díky jejich pomoci bylo vše vyřízeno rychle a bez problémů.",
            "Na tento dopis neočekávám odpověď.",
            "V případě potřeby mohu zaslat další informace.",
            "Jsem Vaším zákazn[íkem|icí] mnoho let a kvality služeb si velmi cením.",
            "Rád[|a] se podělím o další postřehy v dotazníku.",
            "Můj kontakt: {email}.",
        ],
        "ending": ["Přeji mnoho dalších úspěchů.", "Zdravím celý tým.", "Děkuji za pozornost.",
                   "Předem děkuji za odpověď."],
    },
}
