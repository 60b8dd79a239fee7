"""English (UK) sentence pools and identity data."""

from __future__ import annotations

PEOPLE_M = [("James", "Smith"), ("Oliver", "Brown"), ("Harry", "Wilson"), ("George", "Evans"), ("Thomas", "Walker"),
            ("Daniel", "Hughes"), ("Michael", "Clarke"), ("Robert", "Turner")]
PEOPLE_F = [("Emma", "Taylor"), ("Sophie", "Johnson"), ("Charlotte", "Roberts"), ("Emily", "Wright"),
            ("Lucy", "Thompson"), ("Hannah", "White"), ("Olivia", "Harris"), ("Rachel", "Green")]
STREETS = ["Station Road", "Church Lane", "Victoria Street", "Park Avenue", "Mill Lane", "High Street",
           "Queens Road", "Kingsway"]
CITIES = [("Leeds", "LS1 4DY"), ("Manchester", "M1 2AB"), ("Bristol", "BS1 5TR"), ("Glasgow", "G2 3BZ"),
          ("Cardiff", "CF10 1EP"), ("Sheffield", "S1 2HE"), ("Leicester", "LE1 6ZG"), ("London", "N1 9GU")]
COMPANIES = ["Brightside Logistics Ltd", "Harper & Cole Accountants LLP", "Greenway Bakery Ltd",
             "Northgate Builders Ltd"]
LAW_FIRMS = ["Whitfield & Rowe Solicitors", "Carter Legal LLP", "Ashdown Law"]
LAWYER_TITLE = ["Solicitor", "Associate Solicitor", "Partner"]
OPERATORS = [
    ["Telewave UK Ltd", "Customer Care", "PO Box 4521", "Manchester M60 1QD"],
    ["Telewave UK Ltd", "Complaints Department", "1 Pier Street", "Leeds LS11 5AA"],
    ["Northline Telecom plc", "Customer Services", "200 Broad Street", "Birmingham B15 1AY"],
]
DONORS = ["Skyline Mobile", "Harbour Telecom", "Orbit Mobile"]
TARIFFS = ["Unlimited Plus", "Fibre 500", "Family Share", "Business Pro", "SIM Only 30GB"]
CASE_NO = ["K{n}QZ12", "Claim No. {n}MC", "H{n}XY45"]
PLACE_DATE = ["{date}", "{city}, {date}", "Date: {date}"]
LABELS = {
    "customer_id": ["Customer number:", "Customer no.:", "Customer number"],
    "invoice_no": ["Invoice:", "Invoice number:"],
    "phone": ["Tel:", "Phone:", "Mobile:"],
    "email": ["Email:", "E-mail:"],
    "pesel": [],
    "business_id": [],
    "client": ["Our client:", "Client:"],
    "case_no": ["Our ref:", "Court ref:"],
}
ENCLOSURES = ["Enclosures:", "Enc."]

COMMON = {
    "salutation": ["Dear Sir or Madam,", "Dear Customer Services,", "To whom it may concern,", "Hello,"],
    "opening": [
        "I am writing to you as a customer with the customer number {customer_id}.",
        "I am writing about my contract with you (customer number {customer_id}).",
        "I have been your customer for several years and until now I have had no reason to complain.",
        "I am writing about the services provided on my number {phone}.",
        "I use your services under a contract with the customer number {customer_id}.",
        "I am contacting you in connection with the services on the number {phone}.",
    ],
    "business_intro": [
        "I am writing on behalf of {company}, which uses your business services.",
        "As an authorised representative of {company}, I would like to raise the following matter.",
        "I write for {company}, one of your business customers.",
        "On behalf of {company}, please note the following.",
    ],
    "closing": [
        "Please reply in writing to the address above.",
        "Thank you in advance for dealing with this promptly.",
        "Please send your reply to {email}.",
        "If you have any questions, you can reach me on {phone}.",
        "I look forward to a satisfactory resolution.",
        "Please contact me by phone on {phone} or by email.",
    ],
    "signoff": ["Yours faithfully,", "Kind regards,", "Yours sincerely,", "Best regards,"],
    "email_cover": [
        "Hello,\nplease find attached my letter.\nKind regards,\n{name}",
        "Dear Sir or Madam,\nplease see the attached letter and let me know that you have received it.\n{name}",
        "Hi,\nattached is a scan of my signed letter.\nThanks,\n{name}",
        "Hello,\nI attach my request; please confirm receipt.\n{name}",
    ],
}

CATEGORIES: dict[str, dict[str, list[str]]] = {
    "complaint": {
        "subject": ["Complaint about invoice {invoice_no}", "Formal complaint", "Complaint – incorrect charges",
                    "Complaint about my bill for {period}"],
        "request": [
            "I wish to make a formal complaint about invoice {invoice_no} for {amount}, which includes charges for "
            "services I never ordered.",
            "I am complaining about a charge of {amount} for premium services that I have never used.",
            "I dispute invoice {invoice_no} dated {date_inv}: the amount of {amount} is far higher than my "
            "contract allows.",
            "I am making a complaint because my broadband did not work from {date_from} to {date_to}, and I "
            "expect a reduction of my monthly charge.",
            "Please correct invoice {invoice_no} and refund the overpaid amount of {amount}.",
            "I am raising a complaint about the roaming charges shown on invoice {invoice_no}.",
        ],
        "detail": [
            "My contract says my monthly charge is {amount2}, yet I have been billed a much larger sum.",
            "I already reported the problem to your helpline on {date_event} but have had no reply.",
            "Please refund the difference to my bank account {iban}.",
            "The adviser in your shop assured me that the service was free for the whole contract.",
            "I have always paid my bills on time, so I consider these charges unjustified.",
            "I enclose a copy of the invoice and screenshots from the app.",
        ],
        "ending": ["I expect a full response within eight weeks.",
                   "If the complaint is not resolved I will consider further steps.",
                   "Please confirm in writing that you have received this complaint.",
                   "I ask for a corrected invoice."],
    },
    "invoice_query": {
        "subject": ["Question about invoice {invoice_no}", "Request for a copy invoice", "Paperless billing",
                    "Explanation of a charge"],
        "request": [
            "Could you please explain the item \"other charges\" on invoice {invoice_no}?",
            "Please send me a copy of invoice {invoice_no}, as I have lost the original.",
            "I would like to switch to paperless billing with invoices sent to {email}.",
            "I do not understand why invoice {invoice_no} differs from last month. Could you send an itemised "
            "breakdown?",
            "Please send copies of my invoices for the last three months, which I need for my expenses.",
            "Could you explain which period the amount of {amount} on my latest bill covers?",
        ],
        "detail": [
            "I am not disputing the amount; I just want to understand the bill.",
            "The invoice was issued on {date_inv} for {amount}.",
            "I cannot see this document in the app, and my accountant needs it as a PDF.",
            "This item did not appear on previous bills.",
            "Please address the invoice to the details given at the top of this letter.",
            "Payment is due on {date_due}, so I would appreciate a quick answer.",
        ],
        "ending": ["Thank you in advance for the explanation.", "Please reply by email.",
                   "Thank you for your help with this.", "Please send the documents by post."],
    },
    "payment": {
        "subject": ["Proof of payment", "Request for a payment plan", "Refund of overpayment",
                    "Request to defer payment"],
        "request": [
            "Please find enclosed proof of my payment of {amount} made on {date_pay} for invoice {invoice_no}.",
            "I would like to ask for my arrears of {amount} to be split into four monthly instalments.",
            "Please refund the overpayment of {amount} to my bank account {iban}.",
            "Due to temporary financial difficulties, I ask you to extend the due date of invoice {invoice_no} "
            "to {date_due}.",
            "Invoice {invoice_no} was paid on {date_pay}, but I have nevertheless received a payment reminder.",
            "I paid the same invoice twice by mistake and ask you to refund {amount}.",
        ],
        "detail": [
            "The payment has left my bank account, as the attached statement shows.",
            "My account for the refund: {iban}.",
            "I will pay future bills on time.",
            "I paid using the reference number printed on the invoice.",
            "My financial situation is currently difficult because I have lost my job.",
            "Please allocate the payment and stop any further reminders.",
        ],
        "ending": ["Please confirm that the payment has been allocated.", "I hope you can agree to this request.",
                   "Please tell me the current balance of my account.", "Thank you for your understanding."],
    },
    "cancellation": {
        "subject": ["Notice of cancellation", "Cancelling my service", "Termination of contract",
                    "Cancellation of TV package"],
        "request": [
            "I hereby give notice to terminate my contract for the number {phone}.",
            "Please cancel my broadband service with effect from {date_end}.",
            "I would like to end my contract on the day the promotional period ends, which is {date_end}.",
            "I am cancelling my TV service because I am moving abroad.",
            "I no longer wish to use your services and ask you to close my account {customer_id}.",
            "Please treat this letter as notice to end my contract on {date_end}.",
        ],
        "detail": [
            "I will return the router and set-top box to your nearest shop.",
            "Please tell me whether any early termination charges apply.",
            "I am moving to an area where your services are not available.",
            "Please refund any credit balance to {iban}.",
            "I am not interested in a retention offer.",
            "Please send me a final bill.",
        ],
        "ending": ["Please confirm the cancellation in writing.", "Please confirm the date the service will end.",
                   "Thank you for your service so far.", "Please do not contact me with further offers."],
    },
    "service_order": {
        "subject": ["New service order", "Change of tariff", "Add-on activation", "Order for fibre broadband"],
        "request": [
            "Please change my tariff to {tariff} from the next billing period.",
            "I would like to order fibre broadband at {address}.",
            "Please activate a roaming add-on on my number {phone} from {date_start}.",
            "I would like to order an additional SIM card on my current contract with the {tariff} plan.",
            "Please add the Sports TV package to my account {customer_id}.",
            "I would like to renew my contract and move to {tariff} with a new handset.",
        ],
        "detail": [
            "My current plan at {amount} a month no longer suits my needs.",
            "According to your website the monthly price is {amount}.",
            "Please arrange the installation on a weekday after 4 pm.",
            "I agree to receive the contract electronically at {email}.",
            "Please let me know whether an engineer visit is needed.",
            "If possible, I would like the change to take effect from {date_start}.",
        ],
        "ending": ["Please confirm the order.", "I look forward to hearing about an installation date.",
                   "Thank you, I look forward to the activation.", "Please send the terms before activation."],
    },
    "fault_report": {
        "subject": ["Fault report", "No broadband connection", "Phone service not working",
                    "Faulty router – repair request"],
        "request": [
            "I am reporting a fault: since {date_event} there has been no internet connection at {address}.",
            "For several days my number {phone} has not been able to make or receive calls.",
            "The router you supplied keeps restarting and the connection drops several times a day.",
            "Please repair the fault urgently and send an engineer, because my broadband is much slower than "
            "the contract promises.",
            "For several days my set-top box has shown a \"no signal\" message and I cannot watch TV.",
            "My phone {phone} has no signal at home, although it used to work without problems.",
        ],
        "detail": [
            "I have restarted the equipment several times as the helpline advised, without success.",
            "I reported the fault by phone on {date_event}, but no engineer came.",
            "I work from home, so without a connection I cannot do my job.",
            "The light on the router is red.",
            "Contact number for the engineer visit: {phone2}.",
            "My neighbours on the same network have the same problem.",
        ],
        "ending": ["Please fix the fault as soon as possible.", "Please book an engineer visit.",
                   "I await information about the repair date.", "Please contact me urgently."],
    },
    "data_change": {
        "subject": ["Change of details", "Change of correspondence address", "Updating my contact details",
                    "New bank details"],
        "request": [
            "Please change my correspondence address to: {address}.",
            "I have changed my surname and ask you to update my contract.",
            "Please change my contact phone number to {phone2}.",
            "Please update my email address for contact and bills to {email_new}.",
            "I have changed banks, so please record my new account {iban} for refunds.",
            "Please update my personal details as set out below.",
        ],
        "detail": [
            "My old address has not been valid since {date_event}.",
            "I enclose a copy of my marriage certificate confirming the change of name.",
            "All other details remain the same.",
            "New postal address: {address}.",
            "My old number {phone} will no longer be used.",
            "The change should apply from the next bill.",
        ],
        "ending": ["Please confirm that the changes have been made.", "Thank you for updating my details.",
                   "Please send all post to the new address only.", "If anything is unclear, please contact me."],
    },
    "number_porting": {
        "subject": ["Number porting", "Request to port my number", "Porting my number to another provider",
                    "Porting date"],
        "request": [
            "Please port my number {phone} from {donor} to your network.",
            "I request that my number {phone} be ported to {donor}, keeping the same number.",
            "I would like to bring my number {phone} to you on the {tariff} plan.",
            "Please send me the PAC code so that I can move my number {phone} to another network.",
            "The port was scheduled for {date_port}, but my number still does not work on the new network.",
            "I ask you to port the number {phone} from my current provider {donor}.",
        ],
        "detail": [
            "I have given notice to my current provider effective {date_port}.",
            "I enclose the authorisation for the porting process.",
            "It is important to me that the number is out of service for as short a time as possible.",
            "The number is registered in my name.",
            "Please tell me when I will receive the new SIM card.",
            "The port should be completed no later than {date_port}.",
        ],
        "ending": ["Please confirm the porting date.", "I await an update on the porting process.",
                   "Please deal with this urgently.", "Thank you for a smooth transfer."],
    },
    "legal": {
        "subject": ["Letter before action", "Notice of county court claim", "Demand to stop debt collection",
                    "Complaint referred to the Ombudsman"],
        "opening": [
            "We act for the client named above under the enclosed letter of authority.",
            "We are instructed by your customer named at the top of this letter.",
            "We write on behalf of our client, customer number {customer_id}.",
            "We write as authorised representatives in the matter described below.",
        ],
        "request": [
            "On behalf of our client we demand payment of {amount} within 14 days of the date of this letter.",
            "Please note that we have issued a claim in the county court on behalf of our client under reference "
            "{case_no}.",
            "We require you to stop collecting the alleged debt on invoice {invoice_no}, which was passed to a "
            "debt collection agency without any legal basis.",
            "Please be advised that our client's complaint has been referred to the Communications Ombudsman.",
            "We require you to remove the default of {amount} registered against our client with the credit "
            "reference agencies.",
            "Enforcement agents are acting against our client on your instruction, although the sum of {amount} "
            "was paid on {date_pay}.",
        ],
        "detail": [
            "The debt you are pursuing is statute-barred.",
            "Our client disputed invoice {invoice_no}, but the complaint was never answered.",
            "The original letter of authority is enclosed.",
            "If we receive no reply within the stated period, we will issue proceedings without further notice.",
            "A copy of this letter has been sent to Ofcom for information.",
            "The sum claimed includes statutory interest from {date_event}.",
        ],
        "ending": ["Please contact us to settle this matter without court proceedings.",
                   "Please send all correspondence on this matter to our office.",
                   "We expect your response within 14 days.",
                   "Please provide the full file, including call recordings."],
    },
    "gdpr_request": {
        "subject": ["Subject access request", "Request for erasure (UK GDPR)", "Rectification of personal data",
                    "Data protection request"],
        "request": [
            "Under Article 15 of the UK GDPR, please tell me what personal data you hold about me and why.",
            "I request the erasure of my personal data under Article 17 of the UK GDPR, as I am no longer your "
            "customer.",
            "Please provide a copy of all my personal data, including recordings of my calls to your helpline.",
            "Under Article 16 of the UK GDPR, I ask you to correct inaccurate personal data held on your system.",
            "I object to the use of my data for marketing and ask you to remove it from your database.",
            "Please tell me who my personal data has been shared with, in particular whether it was passed to "
            "debt collectors.",
        ],
        "detail": [
            "To identify me: customer number {customer_id}, phone {phone}.",
            "Please send your reply to {email}.",
            "I remind you that you have one month from receipt to respond.",
            "I ended my contract on {date_end} and have not used your services since.",
            "I still receive marketing texts on {phone}, although I never agreed to them.",
            "Your records show the wrong date of birth and an old address.",
        ],
        "ending": ["Please confirm when the request has been completed.",
                   "If I do not receive a reply, I will complain to the ICO.",
                   "Please send the information electronically.", "Thank you for dealing with my request."],
    },
    "other": {
        "subject": ["Thank you", "Reply to your offer", "Enquiry", "Feedback on your service"],
        "request": [
            "I would like to thank the adviser in your shopping centre store for her professional and patient "
            "help.",
            "In reply to your leaflet, I am not interested in your TV offer at the moment.",
            "I would like to ask whether your company sponsors local sports events, such as youth tournaments.",
            "Could you tell me the opening hours of the shop in my town over the holidays?",
            "I would like to apply for a position as an adviser in your customer service centre.",
            "I am writing to praise the engineers who carried out my installation yesterday.",
        ],
        "detail": [
            "Thanks to their help, everything was sorted out quickly.",
            "I do not expect a reply to this letter.",
            "I can send more information if needed.",
            "I have been a customer for many years and value your service.",
            "I would be happy to share more feedback in a survey.",
            "You can reach me at {email}.",
        ],
        "ending": ["I wish you continued success.", "Best wishes to the whole team.", "Thank you for your time.",
                   "Thank you in advance for your reply."],
    },
}
