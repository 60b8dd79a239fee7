"""Polish sentence pools and identity data. ``[m|f]`` picks the writer's grammatical gender."""

from __future__ import annotations

PEOPLE_M = [("Jan", "Kowalski"), ("Piotr", "Nowak"), ("Tomasz", "Wiśniewski"), ("Marek", "Wójcik"),
            ("Krzysztof", "Kamiński"), ("Andrzej", "Lewandowski"), ("Paweł", "Zieliński"),
            ("Michał", "Szymański"), ("Łukasz", "Woźniak"), ("Grzegorz", "Dąbrowski")]
PEOPLE_F = [("Anna", "Kowalska"), ("Katarzyna", "Nowak"), ("Małgorzata", "Wiśniewska"), ("Agnieszka", "Wójcik"),
            ("Ewa", "Kamińska"), ("Joanna", "Lewandowska"), ("Magdalena", "Zielińska"), ("Monika", "Szymańska"),
            ("Barbara", "Woźniak"), ("Żaneta", "Dąbrowska")]
STREETS = ["ul. Długa", "ul. Mickiewicza", "ul. Kwiatowa", "al. Jana Pawła II", "ul. Słoneczna", "ul. Polna",
           "os. Kościuszki", "ul. Żeromskiego", "ul. Świętokrzyska", "ul. Grunwaldzka"]
CITIES = [("Warszawa", "02-495"), ("Kraków", "30-019"), ("Łódź", "90-318"), ("Wrocław", "50-077"),
          ("Poznań", "61-758"), ("Gdańsk", "80-244"), ("Lublin", "20-150"), ("Białystok", "15-062"),
          ("Rzeszów", "35-030"), ("Olsztyn", "10-515")]
COMPANIES = ["Tech-Bud Sp. z o.o.", "Biuro Rachunkowe Saldo s.c.", "Transmed S.A.", "Piekarnia Kowalczyk Sp. j.",
             "Studio Grafiki Pixel Sp. z o.o.", "Hurtownia Elektryczna Amper Sp. z o.o."]
LAW_FIRMS = ["Kancelaria Prawna Lex Sp. k.", "Kancelaria Radców Prawnych Nowak i Wspólnicy",
             "Kancelaria Adwokacka Themis", "Kancelaria Adwokacka Prawo i Rada"]
LAWYER_TITLE = ["adw.", "r.pr.", "adwokat", "radca prawny"]
OPERATORS = [
    ["Telewave Polska S.A.", "Biuro Obsługi Klienta", "skr. pocztowa 1250", "00-950 Warszawa 1"],
    ["Telewave Polska S.A.", "Dział Reklamacji", "ul. Marynarska 12", "02-674 Warszawa"],
    ["Orbis Telekom Sp. z o.o.", "Obsługa Klienta", "ul. Wołoska 18", "02-675 Warszawa"],
]
DONORS = ["Iskra Mobile", "Polfon", "Fala GSM"]
TARIFFS = ["Smart 5G L", "Rodzina 100 GB", "Firma Pro", "Światłowód 600", "Internet Dom 300"]
CASE_NO = ["I C {n}/26", "VI GC {n}/25", "II Co {n}/26"]
PLACE_DATE = ["{city}, {date}", "{city}, dnia {date}", "{city}, dn. {date}"]
LABELS = {
    "customer_id": ["Nr klienta:", "Numer klienta:", "Nr klienta"],
    "invoice_no": ["Dotyczy faktury:", "Faktura nr"],
    "phone": ["tel.", "Tel.:", "telefon:"],
    "email": ["e-mail:", "E-mail:"],
    "pesel": ["PESEL:", "PESEL"],
    "business_id": ["NIP:", "NIP"],
    "client": ["Dotyczy klienta:", "Mocodawca:"],
    "case_no": ["Sygn. akt:", "Sygnatura:"],
}
ENCLOSURES = ["Załączniki:", "Załącznik:"]

COMMON = {
    "salutation": ["Szanowni Państwo,", "Dzień dobry,", "Szanowni Państwo!", "Szanowna Pani, Szanowny Panie,"],
    "opening": [
        "Zwracam się do Państwa jako klient[|ka] o numerze {customer_id}.",
        "Piszę w sprawie mojej umowy abonenckiej (nr klienta: {customer_id}).",
        "Jestem Państwa klient[em|ką] od kilku lat i do tej pory nie miał[em|am] zastrzeżeń do współpracy.",
        "Niniejszym pismem zwracam się w sprawie usług świadczonych na numerze {phone}.",
        "Korzystam z Państwa usług na podstawie umowy, numer klienta {customer_id}.",
        "Kontaktuję się z Państwem w związku z usługami realizowanymi pod numerem {phone}.",
    ],
    "business_intro": [
        "Działając w imieniu firmy {company} (NIP {nip}), zwracam się z poniższą sprawą.",
        "Jako osoba upoważniona do reprezentowania firmy {company}, NIP: {nip}, przedstawiam następującą sprawę.",
        "Piszę w imieniu firmy {company} (NIP {nip}), która korzysta z Państwa usług w pakiecie dla firm.",
        "W imieniu przedsiębiorstwa {company}, NIP {nip}, uprzejmie informuję, co następuje.",
    ],
    "closing": [
        "Proszę o odpowiedź na piśmie na adres podany powyżej.",
        "Z góry dziękuję za szybkie rozpatrzenie sprawy.",
        "Odpowiedź proszę przesłać na adres e-mail {email}.",
        "W razie pytań jestem dostępn[y|a] pod numerem telefonu {phone}.",
        "Liczę na pozytywne załatwienie sprawy.",
        "Proszę o kontakt telefoniczny pod numerem {phone} lub mailowy.",
    ],
    "signoff": ["Z poważaniem", "Z wyrazami szacunku", "Pozdrawiam serdecznie", "Łączę pozdrowienia"],
    "email_cover": [
        "Dzień dobry,\nw załączniku przesyłam pismo w mojej sprawie.\nPozdrawiam\n{name}",
        "Szanowni Państwo,\nuprzejmie proszę o zapoznanie się z załączonym pismem.\nZ poważaniem\n{name}",
        "Dzień dobry,\nprzesyłam skan podpisanego pisma.\n{name}",
        "Witam,\nw załączeniu pismo – proszę o potwierdzenie otrzymania.\n{name}",
    ],
}

CATEGORIES: dict[str, dict[str, list[str]]] = {
    "complaint": {
        "subject": ["Reklamacja faktury {invoice_no}", "Reklamacja usługi telekomunikacyjnej",
                    "Reklamacja – błędne naliczenie opłat", "Reklamacja dotycząca rachunku za {period}"],
        "request": [
            "Niniejszym składam reklamację faktury nr {invoice_no} na kwotę {amount}, ponieważ zawiera opłaty, "
            "których nie zamawiał[em|am].",
            "Wnoszę reklamację dotyczącą naliczenia opłaty w wysokości {amount} za usługi premium, z których "
            "nigdy nie korzystał[em|am].",
            "Reklamuję fakturę {invoice_no} z dnia {date_inv}: kwota {amount} jest znacznie wyższa, niż wynika "
            "z mojej umowy.",
            "Składam reklamację z powodu braku dostępu do internetu w okresie od {date_from} do {date_to} "
            "i żądam proporcjonalnego obniżenia abonamentu.",
            "Zgłaszam reklamację i proszę o korektę faktury {invoice_no} oraz zwrot nadpłaconej kwoty {amount}.",
            "Na podstawie przepisów Prawa telekomunikacyjnego składam reklamację opłat za roaming naliczonych "
            "na fakturze {invoice_no}.",
        ],
        "detail": [
            "Zgodnie z umową mój abonament wynosi {amount2} miesięcznie, a tymczasem obciążono mnie znacznie "
            "wyższą kwotą.",
            "Już wcześniej, {date_event}, zgłaszał[em|am] problem na infolinii, ale do dziś nie otrzymał[em|am] "
            "żadnej odpowiedzi.",
            "Proszę o zwrot różnicy na rachunek bankowy {iban}.",
            "Konsultant w salonie zapewniał mnie, że usługa jest bezpłatna przez cały okres umowy.",
            "Przez cały ten czas regularnie opłacał[em|am] rachunki, dlatego uważam naliczone opłaty "
            "za niezasadne.",
            "Do pisma dołączam kopię faktury oraz zrzuty ekranu z aplikacji.",
        ],
        "ending": ["Oczekuję rozpatrzenia reklamacji w ustawowym terminie 30 dni.",
                   "W przypadku nieuwzględnienia reklamacji rozważę dalsze kroki.",
                   "Proszę o pisemne potwierdzenie przyjęcia reklamacji.",
                   "Żądam korekty faktury i wystawienia nowego dokumentu."],
    },
    "invoice_query": {
        "subject": ["Pytanie dotyczące faktury {invoice_no}", "Prośba o duplikat faktury",
                    "E-faktura – prośba o informację", "Wyjaśnienie pozycji na rachunku"],
        "request": [
            "Proszę o wyjaśnienie, z czego wynika pozycja „opłaty dodatkowe” na fakturze {invoice_no}.",
            "Uprzejmie proszę o przesłanie duplikatu faktury {invoice_no}, ponieważ oryginał zaginął.",
            "Chciał[bym|abym] przejść na e-fakturę i otrzymywać rachunki na adres {email}.",
            "Nie rozumiem, dlaczego kwota na fakturze {invoice_no} różni się od kwoty z poprzedniego miesiąca. "
            "Proszę o szczegółowe zestawienie.",
            "Proszę o przesłanie kopii faktur za ostatnie trzy miesiące, potrzebnych mi do rozliczenia kosztów.",
            "Czy mogą Państwo wyjaśnić, za jaki okres naliczono kwotę {amount} widoczną na ostatnim rachunku?",
        ],
        "detail": [
            "Nie kwestionuję samej należności, zależy mi jedynie na zrozumieniu rozliczenia.",
            "Faktura została wystawiona {date_inv} na kwotę {amount}.",
            "W aplikacji klienta nie widzę tego dokumentu, a do księgowości potrzebuję go w formacie PDF.",
            "Na poprzednich rachunkach taka pozycja się nie pojawiała.",
            "Fakturę proszę wystawić na dane podane w nagłówku pisma.",
            "Termin płatności przypada na {date_due}, dlatego zależy mi na szybkiej odpowiedzi.",
        ],
        "ending": ["Z góry dziękuję za wyjaśnienia.", "Proszę o odpowiedź drogą elektroniczną.",
                   "Dziękuję za pomoc w tej sprawie.", "Proszę o przesłanie dokumentów pocztą."],
    },
    "payment": {
        "subject": ["Potwierdzenie wpłaty", "Wniosek o rozłożenie należności na raty", "Zwrot nadpłaty",
                    "Prośba o odroczenie terminu płatności"],
        "request": [
            "W załączeniu przesyłam potwierdzenie przelewu z dnia {date_pay} na kwotę {amount} tytułem "
            "faktury {invoice_no}.",
            "Zwracam się z prośbą o rozłożenie zaległości w wysokości {amount} na cztery raty miesięczne.",
            "Proszę o zwrot nadpłaty w kwocie {amount} na mój rachunek bankowy {iban}.",
            "Z powodu przejściowych trudności finansowych proszę o przesunięcie terminu płatności faktury "
            "{invoice_no} do {date_due}.",
            "Informuję, że należność z faktury {invoice_no} została uregulowana {date_pay}, mimo to "
            "otrzymał[em|am] wezwanie do zapłaty.",
            "Przez pomyłkę opłacił[em|am] tę samą fakturę dwukrotnie i proszę o zwrot kwoty {amount}.",
        ],
        "detail": [
            "Wpłata została zaksięgowana na moim koncie bankowym, co potwierdza załączony wydruk.",
            "Mój numer rachunku do zwrotu: {iban}.",
            "Zobowiązuję się do terminowego regulowania bieżących rachunków.",
            "Przelew wykonał[em|am] na indywidualny numer rachunku podany na fakturze.",
            "Obecnie moja sytuacja finansowa jest trudna z powodu utraty pracy.",
            "Proszę o zaksięgowanie wpłaty i wstrzymanie dalszych monitów.",
        ],
        "ending": ["Proszę o potwierdzenie rozliczenia płatności.", "Liczę na przychylne rozpatrzenie wniosku.",
                   "Proszę o informację o aktualnym saldzie.", "Dziękuję za zrozumienie."],
    },
    "cancellation": {
        "subject": ["Wypowiedzenie umowy", "Rezygnacja z usługi", "Rozwiązanie umowy o świadczenie usług",
                    "Rezygnacja z pakietu telewizji"],
        "request": [
            "Niniejszym wypowiadam umowę o świadczenie usług telekomunikacyjnych dla numeru {phone} "
            "z zachowaniem okresu wypowiedzenia.",
            "Oświadczam, że rezygnuję z usługi dostępu do internetu z dniem {date_end}.",
            "Proszę o rozwiązanie umowy abonenckiej z dniem zakończenia okresu promocyjnego, tj. {date_end}.",
            "Wypowiadam umowę na usługę telewizji, ponieważ przeprowadzam się za granicę.",
            "Rezygnuję z dalszego korzystania z Państwa usług i proszę o zamknięcie konta klienta {customer_id}.",
            "Na mocy niniejszego pisma rozwiązuję umowę za porozumieniem stron z dniem {date_end}.",
        ],
        "detail": [
            "Sprzęt (router i dekoder) zwrócę w najbliższym salonie.",
            "Proszę o wskazanie, czy z tytułu wypowiedzenia zostaną naliczone jakiekolwiek opłaty.",
            "Decyzja wynika z przeprowadzki do miejscowości, w której nie świadczą Państwo usług.",
            "Ewentualną nadpłatę proszę zwrócić na rachunek {iban}.",
            "Nie jestem zainteresowan[y|a] ofertą utrzymaniową.",
            "Proszę o przesłanie końcowego rozliczenia.",
        ],
        "ending": ["Proszę o pisemne potwierdzenie rozwiązania umowy.",
                   "Proszę o potwierdzenie daty zakończenia świadczenia usług.",
                   "Dziękuję za dotychczasową współpracę.",
                   "Proszę o niekontaktowanie się ze mną w celu przedstawienia ofert."],
    },
    "service_order": {
        "subject": ["Zamówienie usługi", "Zmiana taryfy", "Aktywacja pakietu dodatkowego",
                    "Zamówienie internetu światłowodowego"],
        "request": [
            "Proszę o zmianę mojej taryfy na {tariff} od następnego okresu rozliczeniowego.",
            "Chciał[bym|abym] zamówić usługę internetu światłowodowego pod adresem {address}.",
            "Proszę o aktywację pakietu roamingowego na numerze {phone} od {date_start}.",
            "Zamawiam dodatkową kartę SIM w ramach obecnej umowy wraz z pakietem {tariff}.",
            "Proszę o włączenie pakietu telewizyjnego Sport na moim koncie {customer_id}.",
            "Jestem zainteresowan[y|a] przedłużeniem umowy i przejściem na abonament {tariff} z nowym telefonem.",
        ],
        "detail": [
            "Obecny abonament w wysokości {amount} nie odpowiada już moim potrzebom.",
            "Zgodnie z ofertą na Państwa stronie opłata miesięczna wynosi {amount}.",
            "Instalację proszę zaplanować w dni robocze po godzinie 16.",
            "Wyrażam zgodę na przesłanie umowy w formie elektronicznej na adres {email}.",
            "Proszę o informację, czy wymagana jest wizyta technika.",
            "Jeżeli to możliwe, chciał[bym|abym], aby zmiana weszła w życie od {date_start}.",
        ],
        "ending": ["Proszę o potwierdzenie zamówienia.", "Czekam na kontakt w sprawie terminu instalacji.",
                   "Dziękuję i czekam na aktywację.", "Proszę o przesłanie warunków umowy przed aktywacją."],
    },
    "fault_report": {
        "subject": ["Zgłoszenie awarii", "Brak dostępu do internetu", "Awaria usługi telefonicznej",
                    "Uszkodzony router – prośba o naprawę"],
        "request": [
            "Zgłaszam awarię: od {date_event} nie mam dostępu do internetu pod adresem {address}.",
            "Mój numer {phone} od kilku dni nie może wykonywać ani odbierać połączeń.",
            "Router otrzymany od Państwa samoczynnie się restartuje i połączenie zrywa się kilka razy dziennie.",
            "Proszę o pilną naprawę usterki i przysłanie technika, ponieważ internet działa znacznie wolniej, "
            "niż przewiduje umowa.",
            "Od kilku dni dekoder wyświetla komunikat o braku sygnału i nie mogę oglądać telewizji.",
            "W moim telefonie {phone} nie ma zasięgu w domu, choć wcześniej wszystko działało poprawnie.",
        ],
        "detail": [
            "Wielokrotnie restartował[em|am] urządzenie zgodnie z instrukcjami z infolinii, ale bez skutku.",
            "Awaria została zgłoszona telefonicznie {date_event}, jednak technik się nie pojawił.",
            "Pracuję zdalnie, więc brak łącza uniemożliwia mi wykonywanie obowiązków.",
            "Dioda na routerze świeci się na czerwono.",
            "Kontakt w sprawie wizyty technika: {phone2}.",
            "Sąsiedzi korzystający z tej samej sieci również nie mają dostępu do usługi.",
        ],
        "ending": ["Proszę o jak najszybsze usunięcie usterki.", "Proszę o wyznaczenie terminu wizyty serwisanta.",
                   "Czekam na informację o terminie naprawy.", "Proszę o pilny kontakt w tej sprawie."],
    },
    "data_change": {
        "subject": ["Zmiana danych", "Zmiana adresu korespondencyjnego", "Aktualizacja danych kontaktowych",
                    "Zmiana numeru rachunku bankowego"],
        "request": [
            "Proszę o zmianę adresu korespondencyjnego na: {address}.",
            "Informuję o zmianie nazwiska i proszę o aktualizację danych w umowie.",
            "Proszę o zmianę numeru telefonu kontaktowego na {phone2}.",
            "Proszę o aktualizację adresu e-mail do kontaktu i wysyłki faktur na {email_new}.",
            "Zmienił[em|am] bank, dlatego proszę o wpisanie nowego numeru rachunku {iban} do zwrotów.",
            "Proszę o aktualizację moich danych osobowych zgodnie z poniższymi informacjami.",
        ],
        "detail": [
            "Dotychczasowy adres jest nieaktualny od {date_event}.",
            "Do pisma załączam kopię aktu małżeństwa potwierdzającą zmianę nazwiska.",
            "Pozostałe dane pozostają bez zmian.",
            "Nowy adres do korespondencji: {address}.",
            "Stary numer telefonu {phone} nie będzie już używany.",
            "Zmiana powinna obowiązywać od najbliższej faktury.",
        ],
        "ending": ["Proszę o potwierdzenie wprowadzenia zmian.", "Dziękuję za aktualizację danych.",
                   "Proszę o przesyłanie korespondencji wyłącznie na nowy adres.", "W razie wątpliwości proszę "
                   "o kontakt."],
    },
    "number_porting": {
        "subject": ["Przeniesienie numeru", "Wniosek o przeniesienie numeru do sieci",
                    "Przeniesienie numeru do innego operatora", "Termin przeniesienia numeru"],
        "request": [
            "Proszę o przeniesienie mojego numeru {phone} z sieci {donor} do Państwa sieci.",
            "Składam wniosek o przeniesienie numeru {phone} do operatora {donor} z zachowaniem numeru.",
            "Chciał[bym|abym] przenieść numer {phone} do Państwa w ramach oferty z abonamentem {tariff}.",
            "Proszę o wydanie kodu potrzebnego do przeniesienia numeru {phone} do innej sieci.",
            "Przeniesienie numeru zostało zaplanowane na {date_port}, ale do dziś numer nie działa w nowej sieci.",
            "Wnioskuję o przeniesienie numeru {phone} od dotychczasowego dostawcy {donor}.",
        ],
        "detail": [
            "Umowę z obecnym operatorem wypowiedział[em|am] ze skutkiem na {date_port}.",
            "Pełnomocnictwo do przeprowadzenia procedury przeniesienia załączam do pisma.",
            "Zależy mi na tym, by przerwa w działaniu numeru była jak najkrótsza.",
            "Numer jest zarejestrowany na moje dane.",
            "Proszę o informację, kiedy otrzymam nową kartę SIM.",
            "Przeniesienie powinno nastąpić najpóźniej {date_port}.",
        ],
        "ending": ["Proszę o potwierdzenie terminu przeniesienia.", "Czekam na informację o przebiegu procesu.",
                   "Proszę o pilne zajęcie się sprawą.", "Dziękuję za sprawne przeprowadzenie przeniesienia."],
    },
    "legal": {
        "subject": ["Wezwanie przedsądowe do zapłaty", "Zawiadomienie o skierowaniu sprawy do sądu",
                    "Wezwanie do zaprzestania windykacji", "Skarga do Prezesa UKE – zawiadomienie"],
        "opening": [
            "Kancelaria reprezentuje [wskazanego powyżej Mocodawcę|wskazaną powyżej Mocodawczynię] na podstawie "
            "pełnomocnictwa, którego kopię załączamy.",
            "Działamy jako pełnomocnicy [klienta|klientki] Państwa sieci, [wskazanego|wskazanej] w nagłówku pisma.",
            "Niniejsze pismo kierujemy w imieniu [naszego Mocodawcy|naszej Mocodawczyni], abonent[a|ki] "
            "o numerze klienta {customer_id}.",
            "Zwracamy się do Państwa jako pełnomocnicy procesowi w sprawie opisanej poniżej.",
        ],
        "request": [
            "Działając w imieniu i na rzecz [naszego Mocodawcy|naszej Mocodawczyni], wzywamy do zapłaty "
            "kwoty {amount} w terminie 7 dni od doręczenia niniejszego pisma.",
            "Informujemy, że w imieniu [naszego Mocodawcy|naszej Mocodawczyni] wnieśliśmy pozew do sądu "
            "rejonowego; sprawa toczy się pod sygnaturą akt {case_no}.",
            "Wzywamy Państwa do zaprzestania windykacji rzekomej należności z faktury {invoice_no}, którą "
            "przekazano firmie windykacyjnej bez podstawy prawnej.",
            "Zawiadamiamy, że w sprawie [naszego Klienta|naszej Klientki] złożyliśmy skargę do Prezesa Urzędu "
            "Komunikacji Elektronicznej.",
            "W imieniu [naszego Mocodawcy|naszej Mocodawczyni] wzywamy do wycofania wpisu w rejestrze dłużników "
            "dotyczącego kwoty {amount}.",
            "Komornik sądowy prowadzi egzekucję wobec [naszego Mocodawcy|naszej Mocodawczyni] na wniosek "
            "Państwa spółki, mimo że należność {amount} została zapłacona {date_pay}.",
        ],
        "detail": [
            "Dochodzona przez Państwa należność jest przedawniona.",
            "[Nasz Mocodawca|Nasza Mocodawczyni] reklamował[|a] fakturę {invoice_no}, jednak reklamacja "
            "pozostała bez odpowiedzi.",
            "Pełnomocnictwo w oryginale załączamy do niniejszego pisma.",
            "Brak odpowiedzi w wyznaczonym terminie spowoduje skierowanie sprawy na drogę sądową bez "
            "dodatkowego wezwania.",
            "Kopię korespondencji przekazujemy do wiadomości Miejskiego Rzecznika Konsumentów.",
            "Wskazana kwota obejmuje należność główną wraz z odsetkami ustawowymi za opóźnienie liczonymi "
            "od {date_event}.",
        ],
        "ending": ["Prosimy o kontakt z kancelarią w celu polubownego zakończenia sporu.",
                   "Wszelką korespondencję w sprawie prosimy kierować na adres kancelarii.",
                   "Oczekujemy odpowiedzi w terminie 14 dni.",
                   "Prosimy o przesłanie pełnej dokumentacji sprawy, w tym nagrań rozmów."],
    },
    "gdpr_request": {
        "subject": ["Wniosek o dostęp do danych osobowych", "Żądanie usunięcia danych (RODO)",
                    "Sprostowanie danych osobowych", "Wniosek na podstawie art. 15 RODO"],
        "request": [
            "Na podstawie art. 15 RODO proszę o informację, jakie moje dane osobowe przetwarzają Państwo "
            "i w jakim celu.",
            "Żądam usunięcia moich danych osobowych na podstawie art. 17 RODO, ponieważ nie jestem już "
            "Państwa klient[em|ką].",
            "Proszę o przekazanie kopii wszystkich moich danych osobowych, w tym nagrań rozmów z infolinią.",
            "Na podstawie art. 16 RODO żądam sprostowania błędnych danych osobowych zapisanych w Państwa systemie.",
            "Wnoszę sprzeciw wobec przetwarzania moich danych w celach marketingowych i proszę o ich usunięcie "
            "z bazy.",
            "Proszę o wskazanie, komu udostępniono moje dane osobowe, w szczególności czy przekazano je firmom "
            "windykacyjnym.",
        ],
        "detail": [
            "Moje dane identyfikacyjne: PESEL {pesel}, numer klienta {customer_id}.",
            "Odpowiedź proszę przesłać na adres e-mail {email}.",
            "Przypominam, że na realizację żądania mają Państwo miesiąc od jego otrzymania.",
            "Umowę rozwiązał[em|am] {date_end} i od tego czasu nie korzystam z Państwa usług.",
            "Nadal otrzymuję SMS-y reklamowe na numer {phone}, mimo że nie wyrażał[em|am] na to zgody.",
            "W systemie widnieje błędna data urodzenia oraz stary adres zamieszkania.",
        ],
        "ending": ["Proszę o potwierdzenie realizacji żądania.",
                   "W razie braku odpowiedzi złożę skargę do Prezesa UODO.",
                   "Proszę o przesłanie informacji w formie elektronicznej.", "Dziękuję za realizację wniosku."],
    },
    "other": {
        "subject": ["Podziękowanie", "Odpowiedź na ofertę", "Zapytanie", "Opinia o obsłudze"],
        "request": [
            "Chciał[bym|abym] serdecznie podziękować konsultantce z salonu w centrum handlowym za profesjonalną "
            "i cierpliwą obsługę.",
            "W odpowiedzi na Państwa ulotkę informuję, że nie jestem obecnie zainteresowan[y|a] ofertą "
            "telewizji.",
            "Zwracam się z pytaniem, czy Państwa firma wspiera lokalne inicjatywy sportowe, na przykład turnieje "
            "młodzieżowe.",
            "Proszę o informację o godzinach otwarcia salonu w moim mieście w okresie świątecznym.",
            "Chciał[bym|abym] zgłosić swoją kandydaturę na stanowisko konsultanta w Państwa biurze obsługi "
            "klienta.",
            "Piszę, aby przekazać pozytywną opinię o technikach, którzy wczoraj przeprowadzili instalację.",
        ],
        "detail": [
            "Dzięki ich pomocy wszystko zostało załatwione szybko i sprawnie.",
            "Nie oczekuję odpowiedzi na to pismo.",
            "W razie potrzeby mogę przesłać więcej informacji.",
            "Jestem Państwa klient[em|ką] od wielu lat i cenię sobie jakość usług.",
            "Chętnie podzielę się dalszymi uwagami w ankiecie.",
            "Kontakt do mnie: {email}.",
        ],
        "ending": ["Życzę dalszych sukcesów.", "Pozdrawiam cały zespół.", "Dziękuję za uwagę.",
                   "Z góry dziękuję za odpowiedź."],
    },
}
