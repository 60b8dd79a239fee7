"""Weighted cues per language and category for the lexicon classifier.

Cue syntax (matched on the casefolded, diacritics-free category view, so write cues either way):
- a word is a stem: it matches any word starting with it ("reklamac" → "reklamację");
- ``word=`` must be the whole word ("sąd=" is not "sądzę");
- several words are a phrase, in order, with at most two other words between them
  ("usunięc danych" → "usunięcie moich danych");
- a single stem of 7+ letters also matches inside a word, for words OCR ran together
  ("składamreklamację"); a leading ``^`` forbids that ("^spokojen" is not "nespokojen");
- ``|w`` is the weight (default 1). Legal and GDPR cues are weighted higher on purpose:
  a letter from a court or about personal data must win over the complaint it may also be.
"""

from __future__ import annotations

LEXICON: dict[str, dict[str, str]] = {
    "pl": {
        "complaint": """
            reklamac|3, zażalen|2, skarg|2, niezgodn z umową|2, nienależnie naliczon|2.5,
            błędnie naliczon|2.5, zawyżon|2, korekt faktur|2, nie zgadzam się|2, żądam zwrotu|2,
            niesłuszn|1.5, odszkodowan|2, bonifikat|2, nienależyt|1.5, rozpatrzen|1, zwrot pieniędzy|2,
            podwójnie pobran|2.5, nieuzasadnion|1.5
        """,
        "invoice_query": """
            faktur|1, duplikat|2, kopi faktur|2.5, wyjaśnien|1.5, e-faktur|2.5, faktur elektroniczn|2.5,
            okres rozliczeniow|1.5, nie rozumiem|1.5, biling|2, specyfikac|1.5, wysokość rachunku|2,
            pozycj na fakturze|2, skąd się wzięł|2, prośba o wyjaśnien|2, szczegółow rozliczen|2,
            faktur papierow|2, dlaczego faktur|1.5
        """,
        "payment": """
            wpłat|2, przelew|2, potwierdzen przelew|3, potwierdzen zapłat|3, dowód wpłaty|3, zapłac|1.5,
            rozłożen na raty|3, na raty|2, odroczen|2.5, termin płatności|1.5, nadpłat|2.5, zwrot nadpłat|3,
            zaległoś|1.5, spłat|1.5, uregulow|2, saldo|1, prolongat|2.5, harmonogram spłat|3, opłacon|1.5
        """,
        "cancellation": """
            wypowiedz|3, wypowiada|3, rozwiązan umow|3, rozwiązać umow|3, rezygnuj|2.5, rezygnac|2.5,
            odstąpien od umowy|3, odstępuj od umowy|3, zakończen umow|2, nie przedłuż|2, dezaktywac|1.5,
            okres wypowiedzen|2, rozwiąz|1.5, z zachowaniem okresu|1.5, zamknięci konta|2
        """,
        "service_order": """
            zamawiam|3, zamówien|2, zamówić|2.5, aktywac|2, włączen usług|2.5, zmian taryf|3, taryf|1.5,
            pakiet|1.5, now usług|2, podłączen|1.5, instalac|1, przedłużen umowy|1.5, dodatkow usług|2,
            skorzysta z oferty|2, światłowód|1.5, telewizj|1, roaming|1.5, zwiększen limit|2, nowy abonament|2.5
        """,
        "fault_report": """
            awari|3, usterk|3, nie działa|3, brak internetu|3, brak sygnał|3, brak zasięg|3, zrywa|2,
            przerw w dostaw|2.5, przerw|1, napraw|2, serwis|1.5, uszkodz|2.5, zepsu|2, modem|1, router|1,
            dekoder|1, prędkoś|1.5, technik|1.5, nie mogę się połączyć|2.5, nie ma internetu|3
        """,
        "data_change": """
            zmian adres|3, adres korespondenc|2.5, nowy adres|2.5, zmian nazwisk|3, nazwisk|1, zmian danych|3,
            aktualizac danych|3, zmian numer rachunk|3, rachunek bankow|2, zmian e-mail|2.5, adres e-mail|1.5,
            nowe dane|2, przeprowadz|2, telefon kontaktow|2, dane kontaktow|2.5, nowy numer kontaktow|2.5
        """,
        "number_porting": """
            przeniesien numer|4, przenieść numer|4, przenoszen numer|4, portac|3.5, portowan|3.5, mnp=|3,
            innego operatora|2.5, inn sieci|2, zachowan numer|3, zachować numer|3, dotychczasow numer|2,
            operator dawc|3.5, operator biorc|3.5, przeniesieni|1.5
        """,
        "legal": """
            sąd=|3.5, sądu=|3.5, sądzie=|3.5, sądem=|3.5, sądow|3.5, komornik|4, komornicz|4, uokik=|4,
            uke=|3.5, urzędu komunikacji elektronicznej|4, rzecznik konsument|4, rzecznik praw konsument|4,
            pozew=|4, pozwu=|4, adwokat|3, radca prawn|3, radcy prawn|3, kancelari|2.5, nakaz zapłaty|4,
            egzekuc|3.5, windykac|3, przedsądow|3.5, sygnatur akt|2.5, prokuratur|3.5, pełnomocnik|2
        """,
        "gdpr_request": """
            rodo=|4, gdpr=|4, dane osobowe|4, danych osobowych|4, usunięc danych|3.5, usunąć danych|3.5,
            zapomnian|3, dostęp do danych|3, sprostowan danych|3, przetwarzan danych|3, administrator danych|3,
            ochron danych|3, sprzeciw wobec przetwarzania|3.5, cofnięc zgody|2.5, cofam zgod|2.5,
            inspektor ochrony danych|3.5, iod=|2.5, kopi danych|3, art. 15|2, art. 17|2
        """,
        "other": """
            dziękuj za obsług|2.5, podziękowan dla|2.5, gratul|2, pochwał|2, newsletter|2, ankiet|1.5,
            życzeni|1.5, oferta współpracy|2.5, zaproszeni|1.5, zapytanie ofertowe|2, mił obsług|2,
            konkurs|1.5, rekrutac|2, cv=|2, list motywacyjny|2.5, reklamy=|1
        """,
    },
    "cs": {
        "complaint": """
            reklamac|3, reklamuj|3, stížnost|2.5, nesouhlas|2, chybn vyúčtov|2.5, neoprávněn|2, vrácení peněz|2,
            náhrad škody|2, kompenzac|2, slev|1, dobropis|2, oprav vyúčtování|2.5, nesprávn|1.5,
            ^nespokojen|1.5, účtováno dvakrát|2.5, neodpovídá skutečnosti|2
        """,
        "invoice_query": """
            faktur|1, vyúčtován|1.5, kopi faktur|2.5, duplikát|2, vysvětlen|1.5, elektronick faktur|2.5,
            e-faktur|2.5, podrobn výpis|2, výpis hovor|2, položk|1.5, zúčtovací obdob|1.5, nerozumím|1.5,
            daňov doklad|1.5, papírov faktur|2, proč je částka|2, vysvětlení vyúčtování|2.5
        """,
        "payment": """
            platb|1.5, zaplat|1.5, úhrad|1.5, uhradil|2, splátk|2.5, splátkov kalendář|3, odklad|2, posečkán|2.5,
            přeplat|2.5, vrácení přeplatku|3, doklad o zaplacení|3, potvrzení o platbě|3, nedoplat|2,
            variabilní symbol|1.5, převodem|1.5, dlužn částk|1.5, inkas|1
        """,
        "cancellation": """
            výpověď|3, vypovídám|3, vypovědět|3, výpovědi|3, ukončen smlouv|3, ukončit smlouv|3, zrušen služb|2.5,
            zrušit|2, odstoupen od smlouv|3, odstupuji od smlouv|3, výpovědní lhůt|2.5, nechci pokračovat|2,
            ruším|2, deaktivac|1.5, zánik smlouv|2
        """,
        "service_order": """
            objednáv|3, objednat|2.5, aktivac|2, aktivovat|2, změn tarif|3, tarif|1.5, nov služb|2, zřízen|2,
            přípojk|1.5, balíček|1.5, datov balíč|2, navýšen dat|2, instalac|1, prodloužen smlouv|1.5,
            mám zájem|2, televiz|1, roaming|1.5, doplňkov služb|2
        """,
        "fault_report": """
            porucha|3, poruch|3, nefunguj|3, výpadek|3, výpadk|3, nejde internet|3, bez signálu|3, signál|1.5,
            rušen|1.5, oprav|1, servis|1.5, technik|1.5, závad|3, modem|1, router|1, pomal|1.5, nedostupn|2,
            nelze se připojit|2.5, nemám internet|3
        """,
        "data_change": """
            změn adres|3, korespondenční adres|2.5, nov adres|2.5, změn jmén|3, změn příjmení|3, příjmení|1,
            změn údaj|3, aktualizac údaj|3, čísl účtu|2, bankovní spojení|2.5, změn e-mail|2.5,
            kontaktní údaj|2.5, kontaktní telefon|2, přestěhoval|2, nové kontaktní|2.5
        """,
        "number_porting": """
            přenesen čísl|4, přenést čísl|4, přenos čísl|4, portac|3.5, portov|3, převod čísl|3.5,
            jiného operátor|2.5, jinému operátor|2.5, oku=|3, kód oku|4, zachován čísl|3, zachovat čísl|3,
            stávající čísl|2, přenesení|1.5
        """,
        "legal": """
            soud|3.5, exekuto|4, exekuc|4, čtú=|4, telekomunikační úřad|4, advokát|3, právní zástup|3, žalob|4,
            insolvenc|3, platební rozkaz|4, předžalobn|4, inkasní agentur|3, vymáhán|2.5, obchodní inspekc|3.5,
            čoi=|3.5, finanční arbitr|3.5, rozhodčí|2, spisov značk|2.5, trestní oznámení|3.5
        """,
        "gdpr_request": """
            gdpr=|4, osobní údaj|4, osobních údajů|4, výmaz|3, vymazán|3, vymazat|3, přístup k údaj|3,
            zpracován údaj|3, zpracování|1.5, odvolání souhlas|3, souhlas se zpracováním|2.5, pověřenec|3,
            ochran údaj|3, ochran osobních|3, zapomenut|3, oprav údaj|2, úoou=|4
        """,
        "other": """
            děkuji za obsluh|2.5, poděkování|2, pochval|2, gratul|2, newsletter|2, dotazník|1.5,
            nabídka spolupráce|2.5, přání|1.5, soutěž|1.5, inzerc|1.5, životopis|2.5, pozvánk|1.5,
            ^spokojen s|2, průzkum|1.5
        """,
    },
    "ru": {
        "complaint": """
            претензи|3, жалоб|2.5, неправомерн|2, незаконно списан|2.5, списан|1, перерасчет|2.5,
            верните деньги|2, возврат денежн|2, возмещен|2, компенсац|2, не согласен|2, ошибочн|2, завышен|2,
            некачествен|2, рекламац|2.5, недоволен|1.5, неоказан|2, двойное списан|2.5
        """,
        "invoice_query": """
            счет|0.7, счет-фактур|2, детализац|2.5, разъясн|2, поясн|1.5, копи счет|2.5, дубликат|2,
            выставлен|1.5, электронн счет|2.5, начислен|1.5, квитанц|1.5, расчетн период|1.5, не понима|1.5,
            акт сверк|2.5, за что начислен|2.5, сумма в счете|2
        """,
        "payment": """
            оплат|1.5, оплатил|2, платеж|2, платежн поручен|3, квитанци об оплате|3, рассрочк|3, отсрочк|3,
            перевел|1.5, переплат|2.5, возврат переплат|3, задолженност|1.5, погашен|2, чек=|1.5, зачисл|2,
            баланс|1.5, пополнен|1.5, подтвержден оплаты|3
        """,
        "cancellation": """
            расторж|3, расторгн|3, прекращен договор|3, прекратить договор|3, отказ от услуг|2.5,
            отказываюсь от|2.5, отключ|1, закрыт лицев счет|3, закрыть лицев|3, не продлева|2, аннулир|2,
            деактивац|1.5, прекратить обслуживан|2.5, уведомлен о расторжени|3
        """,
        "service_order": """
            подключить|2.5, подключени услуг|2.5, заказать|2.5, заказыва|2, оформить|1.5, смен тариф|3,
            сменить тариф|3, тариф|1.5, переход на тариф|3, нов услуг|2, активац|2, активир|2, пакет|1.5,
            дополнительн услуг|2, установк|1, роуминг|1.5, телевиден|1, интересует|1.5
        """,
        "fault_report": """
            не работает|3, неисправн|3, авари|3, поломк|3, сломал|2.5, нет интернет|3, нет связи|3,
            отсутств связи|3, отсутств интернет|3, обрыв|2.5, ремонт|2, мастер|2, качеств связи|2, скорост|1.5,
            роутер|1, модем|1, приставк|1, пропада|2.5, сигнал|1.5, не ловит|2
        """,
        "data_change": """
            смен адрес|3, изменен адрес|3, изменить адрес|3, нов адрес|2.5, почтов адрес|2, смен фамили|3,
            изменен фамили|3, фамили|1, изменен данных|3, смен паспорт|2.5, паспортн данн|2.5, нов паспорт|2,
            реквизит|1.5, контактн телефон|2, адрес электронной почты|2, переехал|2, актуализ|2.5, контактн данн|2.5
        """,
        "number_porting": """
            перенос номер|4, перенести номер|4, перенесени номер|4, друг оператор|2.5, сохранен номер|3,
            сохранить номер|3, mnp=|3, мнп=|3, портир|3, донор|3, реципиент|3, переход к другому|2,
            сохранением номера|3
        """,
        "legal": """
            суд=|3.5, суда=|3.5, суде=|3.5, судом=|3.5, судебн|4, иск=|3, исков|3.5, пристав|4, фссп=|4,
            роскомнадзор|4, роспотребнадзор|4, прокуратур|4, адвокат|3, юрист|2.5, доверенност|2, коллектор|3,
            взыскан|3, исполнительн производств|4, досудебн|3.5, защит прав потребител|3.5
        """,
        "gdpr_request": """
            персональн данн|4, 152-фз|4, удален данных|3.5, удалить данные|3.5, обработк данных|3,
            согласие на обработку|2.5, отзыв согласи|3, отзываю согласие|3, доступ к данным|3, уточнен данных|2,
            gdpr=|4, прекратить обработк|3.5, оператор персональных|3, копи данных|3
        """,
        "other": """
            благодар за обслуживан|2.5, благодарност|2, поздравл|2, рассылк|2, отписа|2, сотрудничеств|2,
            резюме|2, ваканс|2, опрос|1.5, анкет|1.5, отзыв=|1, конкурс|1.5, реклама=|1, хорош обслуживан|2,
            вежлив|1.5
        """,
    },
    "en": {
        "complaint": """
            complain|3, dispute|2.5, overcharg|3, incorrect|2, wrongly|2, refund|1.5, compensation|2,
            unacceptable|2, dissatisf|2, not satisfied|2, unhappy|1.5, charged twice|2.5, credit note|1.5,
            unauthoris|2, unauthoriz|2, correction|1.5, poor service|2, not agree|1.5
        """,
        "invoice_query": """
            invoice|1.5, billing|1, bill=|1, copy invoice|2.5, duplicate|2, explain|2, explanation|2, itemis|2,
            itemiz|2, breakdown|2, e-invoice|2.5, electronic invoice|2.5, paperless|2, billing period|1.5,
            line item|1.5, clarif|1.5, understand|1, paper invoice|2
        """,
        "payment": """
            payment|1.5, paid|1.5, proof payment|3, instalment|3, installment|3, payment plan|3, defer|2.5,
            overpa|2.5, remittance|2, bank transfer|2.5, direct debit|2, outstanding|1.5, settle|1.5, receipt|1.5,
            arrears|2, transferred|1.5, payment extension|3
        """,
        "cancellation": """
            terminat|3, cancel|2.5, end contract|3, close account|3, withdraw contract|2.5, no longer wish|2,
            discontinu|2.5, not renew|2, notice period|2, cease service|2.5, leaving|1, notice of termination|3
        """,
        "service_order": """
            to order|2, place order|2.5, upgrade|2.5, activat|2, add-on|2.5, new service|2, new line|2, tariff|2,
            change plan|2.5, ^subscribe|2, sign up|2, install|1.5, bundle|1.5, roaming|1.5, package|1.5,
            allowance|1.5, interested in|1.5
        """,
        "fault_report": """
            not working|3, not work|3, fault|3, outage|3, no internet|3, no signal|3, dial tone|2.5, broken|2.5,
            repair|2.5, engineer|2, technician|2, slow|1.5, dropping|2, drops out|2, router|1, modem|1,
            intermittent|2, no connection|3, cannot connect|3
        """,
        "data_change": """
            change address|3, new address|3, correspondence address|2.5, update details|3, change name|3,
            surname|1.5, maiden name|2, bank details|2.5, bank account|1.5, email address|1.5, contact number|2,
            moved|1.5, update|1, personal details|1.5, change of details|3
        """,
        "number_porting": """
            port number|4, porting|3.5, port out|3.5, pac=|3.5, stac=|3.5, keep number|3, transfer number|3.5,
            number transfer|3.5, another operator|2.5, another provider|2.5, new provider|2.5,
            losing provider|3, gaining provider|3, mnp=|3
        """,
        "legal": """
            court|4, lawyer|3, solicitor|3, attorney|3, legal action|4, proceedings|2.5, lawsuit|4, sue=|3,
            bailiff|4, debt collect|3, ombudsman|4, ofcom=|4, regulator|3, claimant|3, before action|4,
            enforcement|2.5, summons|4, tribunal|3, my client|2.5, legal|2
        """,
        "gdpr_request": """
            gdpr=|4, personal data|4, subject access|4, data protection|4, erasure|4, be forgotten|3,
            delete data|3, data controller|3, dpo=|3, rectification|3, processing|1.5, withdraw consent|3,
            article 15|3, article 17|3, copy of data|3
        """,
        "other": """
            thank excellent|2.5, grateful|2, congratulat|2, newsletter|2, unsubscribe|2.5, marketing|1.5,
            survey|1.5, feedback|1.5, partnership|2, collaborat|1.5, cv=|2, vacanc|2, job applica|2,
            compliment|2, great service|2, advertis|1.5, invitation|1.5
        """,
    },
}
