// One row per call, kept up to date from /events (Server-Sent Events). Every value is written
// with textContent: the page shows an event's members as text and nothing else.
'use strict';

const BRANDS = {
  visa: 'Visa', mastercard: 'Mastercard', amex: 'American Express', discover: 'Discover',
  'diners-club': 'Diners Club', jcb: 'JCB', maestro: 'Maestro', unionpay: 'UnionPay',
};
const STEPS = {
  asked: 'asked', accepted: 'accepted', invalid: 'refused', confirmed: 'confirmed',
  cancelled: 'cancelled (*)', 'handed-off': 'handed off',
};
const COLUMNS = ['call', 'flow', 'step', 'field', 'attempt', 'error', 'card', 'result', 'updated'];

const rows = new Map(); // callSid → { tr, cells }

/** "Visa ending 4242", or "Card ending 4242" for a card of no known brand. */
function cardText(masked) {
  return `${BRANDS[masked.brand] ?? 'Card'} ending ${masked.last4}`;
}

function rowOf(callSid) {
  let row = rows.get(callSid);
  if (row === undefined) {
    const tr = document.createElement('tr');
    const cells = {};
    for (const name of COLUMNS) {
      cells[name] = document.createElement('td');
      cells[name].className = name;
      tr.append(cells[name]);
    }
    cells.call.textContent = callSid;
    row = { tr, cells };
    rows.set(callSid, row);
    document.getElementById('empty').hidden = true;
  }
  document.getElementById('calls').prepend(row.tr); // the latest call on top
  return row;
}

function show(event) {
  const row = rowOf(event.callSid);
  // A slow delivery can bring an earlier webhook's event after a later one: the row keeps the
  // latest by `at` (events of one webhook share it and arrive in order).
  if (event.at < (row.at ?? 0)) return;
  row.at = event.at;
  const { cells, tr } = row;
  cells.flow.textContent = event.flow;
  cells.step.textContent = STEPS[event.event] ?? event.event;
  if (event.field !== null) {
    cells.field.textContent = event.field;
    cells.attempt.textContent = String(event.attempt);
  }
  if (event.event === 'invalid') cells.error.textContent = event.error;
  if (event.event === 'accepted') cells.error.textContent = '';
  if (event.masked) cells.card.textContent = cardText(event.masked);
  if (event.event === 'handed-off') cells.result.textContent = event.result;
  cells.updated.textContent = new Date(event.at).toLocaleTimeString();
  tr.dataset.event = event.event;
  tr.dataset.result = event.result ?? '';
}

const connection = document.getElementById('connection');
const source = new EventSource('/events');
source.onopen = () => { connection.textContent = 'live'; connection.dataset.state = 'live'; };
source.onerror = () => { connection.textContent = 'reconnecting…'; connection.dataset.state = 'down'; };
source.onmessage = (message) => show(JSON.parse(message.data));
