/*
 * loopd console: plain JavaScript, no framework, no build step.
 *
 * It uses only loopd's public API with the token typed in at login (kept
 * in this tab's sessionStorage, sent as an Authorization header; no
 * cookie). The buttons follow what the token may do here, as GET
 * /v1/status reports it (a daemon with `console = read-only` serves every
 * request from a browser with the read scope only: it knows them by the
 * Origin and Sec-Fetch-Site headers that only the browser sets, and by
 * `Loop-Console: 1`, which this page sends too). Data is shown
 * with textContent only, never parsed as HTML.
 *
 * Live updates: GET /v1/events read with fetch() and a stream reader (an
 * EventSource cannot send the Authorization header), parsed here; each
 * change event names an object, which is fetched again. On `event:
 * reset` (events were missed: the ring moved on, or loopd restarted)
 * everything is listed afresh. When the stream fails, or the tab is
 * hidden, the console polls instead.
 */
'use strict';

(function () {
	const TOKEN_KEY = 'loopd.token';
	const POLL_MS = 3000, POLL_HIDDEN_MS = 30000, MAX_PAGES = 20, HISTORY_SHOWN = 200;
	const S = {
		calls: new Map(), futures: new Map(), schedules: null, scopes: undefined,
		offset: 0, mode: 'on', lastEventId: null, streamCtl: null, retry: 1000,
		pollTimer: null, pollMs: 0, pending: new Set(), flushTimer: null,
		metrics: null, prevMetrics: null, renderWanted: false, started: false,
		events: 0, formOpen: false,
	};
	const $ = (id) => document.getElementById(id);

	/* Build an element: props set text (textContent), class, event
	 * handlers (onclick...) and attributes; children are nodes or text. */
	function el(tag, props, ...kids) {
		const e = document.createElement(tag);
		for (const [k, v] of Object.entries(props || {})) {
			if (v === undefined || v === null || v === false) continue;
			if (k === 'text') e.textContent = String(v);
			else if (k === 'class') e.className = v;
			else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
			else e.setAttribute(k, v === true ? '' : String(v));
		}
		for (const c of kids.flat(Infinity)) {
			if (c === null || c === undefined || c === false) continue;
			e.append(typeof c === 'string' || typeof c === 'number' ? String(c) : c);
		}
		return e;
	}

	const token = () => sessionStorage.getItem(TOKEN_KEY);
	/* Whether this tab may do what needs scope ('calls', 'calls-command',
	 * 'futures'): console = on, and the token has it (as GET /v1/status
	 * reports; a daemon with console = read-only serves a browser with the
	 * read scope only, whatever the token). */
	function can(scope) {
		if (S.mode !== 'on' || S.scopes === undefined) return false;	/* not known yet */
		if (S.scopes === null) return true;	/* an older loopd: it does not say */
		if (S.scopes.includes('admin')) return true;
		if (scope === 'calls') return S.scopes.includes('calls-command') || S.scopes.includes('calls-webhook');
		return S.scopes.includes(scope);
	}
	const canWrite = () => can('calls') || can('futures');
	const now = () => Date.now() / 1000;

	/* Call the API; resolves with the parsed reply, rejects with an Error
	 * carrying .status. A 401 logs out. */
	async function api(method, path, body) {
		const headers = { 'Authorization': 'Bearer ' + token(), 'Loop-Console': '1' };
		if (body !== undefined) headers['Content-Type'] = 'application/json';
		const r = await fetch(path, {
			method, headers, cache: 'no-store',
			body: body === undefined ? undefined : JSON.stringify(body),
		});
		const text = await r.text();
		let data = null;
		try { data = text ? JSON.parse(text) : null; } catch (e) { data = text; }
		if (r.status === 401) {
			logout('The token was refused.');
		}
		if (!r.ok) {
			const err = new Error((data && data.detail) || (r.status + ' ' + r.statusText));
			err.status = r.status;
			throw err;
		}
		return data;
	}

	function message(text) {
		$('message').textContent = text || '';
	}

	/* Run an action from a button; errors show in the message line. */
	async function act(fn) {
		message('');
		try {
			await fn();
		} catch (e) {
			message(e.message);
		}
	}

	/* ---- loading ---- */

	async function listAll(path) {
		const m = new Map();
		let tok = '';
		for (let i = 0; i < MAX_PAGES; i++) {
			const d = await api('GET', path + '?page_size=1000' +
			    (tok ? '&page_token=' + encodeURIComponent(tok) : ''));
			for (const o of d.items) m.set(o.id, o);
			tok = d.next_page_token;
			if (!tok) break;
		}
		return m;
	}

	async function loadSchedules() {
		try {
			const d = await api('GET', '/v1/schedules?page_size=1000');
			S.schedules = new Map((d.items || []).map((o) => [o.id, o]));
		} catch (e) {
			if (e.status === 404 || e.status === 405) S.schedules = null;
		}
		$('nav-schedules').hidden = S.schedules === null;
	}

	/* What this token may do here (GET /v1/status `token`): the buttons
	 * follow it. */
	async function loadScopes() {
		try {
			const st = await api('GET', '/v1/status');
			S.scopes = st.token && Array.isArray(st.token.scopes) ? st.token.scopes : null;
		} catch (e) {
			S.scopes = null;
		}
		$('readonly').hidden = canWrite();
		$('app').dataset.scopes = 'known';	/* the buttons are what they will be */
		render();
	}

	async function loadAll() {
		const t = await api('GET', '/v1/time');
		S.offset = t.unix_time - t.loop_time;
		const [calls, futures] = await Promise.all([listAll('/v1/calls'), listAll('/v1/futures')]);
		S.calls = calls;
		S.futures = futures;
		await loadSchedules();
		render();
	}

	/* The pending futures again (their waiter and callback counts). */
	async function refreshPendingFutures() {
		const d = await api('GET', '/v1/futures?state=pending&page_size=1000');
		let changed = false;
		for (const f of d.items || []) {
			const old = S.futures.get(f.id);
			if (!old || JSON.stringify(old) !== JSON.stringify(f)) changed = true;
			S.futures.set(f.id, f);
		}
		if (changed && route().view === 'futures') render();
	}

	/* Fetch the objects named by change events, a batch at a time. */
	function wantObject(kind, id) {
		S.pending.add(kind + ' ' + id);
		if (!S.flushTimer) S.flushTimer = setTimeout(flush, 100);
	}

	async function flush() {
		S.flushTimer = null;
		const items = [...S.pending];
		S.pending.clear();
		if (items.length > 100) {
			await loadAll().catch((e) => message(e.message));
			return;
		}
		await Promise.all(items.map(async (it) => {
			const [kind, id] = it.split(' ');
			if (kind === 'schedule') return;
			const map = kind === 'call' ? S.calls : S.futures;
			try {
				const o = await api('GET', (kind === 'call' ? '/v1/calls/' : '/v1/futures/') + id);
				map.set(id, o);
				if (o.schedule) items.push('schedule ' + o.schedule);
			} catch (e) {
				if (e.status === 404) map.delete(id);
			}
		}));
		if (items.some((it) => it.startsWith('schedule '))) await loadSchedules();
		render();
	}

	/* ---- the event stream ---- */

	function setLive(state) {
		const l = $('live');
		l.className = 'live ' + state;
		l.textContent = state === 'on' ? 'live' : state === 'poll' ? 'polling' : 'offline';
	}

	/* One SSE block (lines up to a blank line). */
	function sseBlock(block) {
		let id = null, event = 'message', data = [];
		for (const line of block.split('\n')) {
			if (line === '' || line.startsWith(':')) continue;
			const i = line.indexOf(':');
			const field = i < 0 ? line : line.slice(0, i);
			let value = i < 0 ? '' : line.slice(i + 1);
			if (value.startsWith(' ')) value = value.slice(1);
			if (field === 'id') id = value;
			else if (field === 'event') event = value;
			else if (field === 'data') data.push(value);
		}
		if (id !== null) S.lastEventId = id;
		if (data.length === 0 && event === 'message') return;
		S.events++;
		if (event === 'reset') {
			loadAll().catch((e) => message(e.message));
			return;
		}
		let d;
		try { d = JSON.parse(data.join('\n')); } catch (e) { return; }
		if (d && d.id && d.kind) wantObject(d.kind, d.id);
	}

	async function openStream() {
		if (S.streamCtl || document.hidden || !token()) return;
		const ctl = new AbortController();
		S.streamCtl = ctl;
		const headers = { 'Authorization': 'Bearer ' + token(), 'Loop-Console': '1' };
		if (S.lastEventId) headers['Last-Event-ID'] = S.lastEventId;
		try {
			const r = await fetch('/v1/events', { headers, signal: ctl.signal, cache: 'no-store' });
			if (r.status === 401) {
				logout('The token was refused.');
				return;
			}
			if (!r.ok || !r.body) throw new Error('event stream: ' + r.status);
			setLive('on');
			stopPolling();
			S.retry = 1000;
			const reader = r.body.getReader();
			const dec = new TextDecoder();
			let buf = '';
			for (;;) {
				const { value, done } = await reader.read();
				if (done) break;
				buf += dec.decode(value, { stream: true }).replace(/\r\n?/g, '\n');
				let i;
				while ((i = buf.indexOf('\n\n')) >= 0) {
					const block = buf.slice(0, i);
					buf = buf.slice(i + 2);
					sseBlock(block);
				}
			}
		} catch (e) {
			/* a network error or an abort: handled below */
		} finally {
			if (S.streamCtl === ctl) S.streamCtl = null;
		}
		if (ctl.signal.aborted || !token()) return;
		/* The stream ended (loopd drained or went away): poll, and try
		 * again a little later. */
		setLive('poll');
		startPolling(POLL_MS);
		setTimeout(openStream, S.retry);
		S.retry = Math.min(S.retry * 2, 15000);
	}

	function closeStream() {
		if (S.streamCtl) {
			S.streamCtl.abort();
			S.streamCtl = null;
		}
	}

	function startPolling(ms) {
		if (S.pollTimer && S.pollMs === ms) return;
		stopPolling();
		S.pollMs = ms;
		S.pollTimer = setInterval(() => loadAll().then(() => {
			if (S.streamCtl === null) setLive('poll');
		}).catch(() => setLive('off')), ms);
	}

	function stopPolling() {
		if (S.pollTimer) clearInterval(S.pollTimer);
		S.pollTimer = null;
	}

	document.addEventListener('visibilitychange', () => {
		if (!S.started) return;
		if (document.hidden) {
			closeStream();
			setLive('poll');
			startPolling(POLL_HIDDEN_MS);
		} else {
			stopPolling();
			loadAll().catch((e) => message(e.message));
			openStream();
		}
	});

	/* ---- formatting ---- */

	function secs(s) {
		if (s === null || s === undefined || !isFinite(s)) return '–';
		const a = Math.abs(s);
		if (a < 1) return (s * 1000).toFixed(0) + ' ms';
		if (a < 60) return s.toFixed(1) + ' s';
		if (a < 3600) return Math.floor(s / 60) + 'm ' + Math.floor(a % 60) + 's';
		if (a < 86400) return Math.floor(s / 3600) + 'h ' + Math.floor((a % 3600) / 60) + 'm';
		return Math.floor(s / 86400) + 'd ' + Math.floor((a % 86400) / 3600) + 'h';
	}

	const localTime = (unix) => new Date(unix * 1000).toLocaleString();
	const toUnix = (loop) => (loop === undefined || loop === null ? null : loop + S.offset);

	function actionText(o) {
		if (o.command) return (o.command.argv || []).join(' ');
		if (o.webhook) return (o.webhook.method || 'POST') + ' ' + o.webhook.url;
		return '';
	}

	function outcomeOf(o) {
		if (o.state === 'cancelled') return 'cancelled';
		if (o.state !== 'finished') return o.phase || o.state;
		return o.exception ? (o.exception.type || 'exception') : 'result';
	}

	function stateClass(o) {
		if (o.state === 'finished' && o.exception) return 'state-exception';
		return 'state-' + o.state;
	}

	function matches(o) {
		const q = $('search').value.trim().toLowerCase();
		const st = $('state-filter').value;
		if (st === 'exception' && !(o.state === 'finished' && o.exception)) return false;
		if (st && st !== 'exception' && o.state !== st) return false;
		if (!q) return true;
		return JSON.stringify(o).toLowerCase().includes(q);
	}

	function idLink(o) {
		const base = o.kind === 'call' ? '#/calls/' : o.kind === 'schedule' ? '#/schedules/' : '#/futures/';
		return el('a', { class: 'id', href: base + o.id, text: o.id });
	}

	function callbacksOf(id) {
		return [...S.calls.values()].filter((c) => c.on_done === id);
	}

	/* ---- actions ---- */

	function button(label, fn, cls) {
		return el('button', { type: 'button', class: cls, text: label, onclick: () => act(fn) });
	}

	async function cancelCall(id) {
		await api('DELETE', '/v1/calls/' + id);
		wantObject('call', id);
	}

	async function rerun(o) {
		const body = { soon: true };
		for (const k of ['command', 'webhook', 'args', 'name', 'retry', 'on_restart']) {
			if (o[k] !== undefined) body[k] = o[k];
		}
		const c = await api('POST', '/v1/calls', body);
		S.calls.set(c.id, c);
		location.hash = '#/calls/' + c.id;
	}

	/* ---- views ---- */

	function card(o, ...kids) {
		return el('div', { class: 'card', 'data-id': o.id }, ...kids);
	}

	function kv(pairs) {
		return el('dl', { class: 'kv' }, pairs.filter((p) => p[1] !== undefined && p[1] !== null &&
		    p[1] !== '').map(([k, v]) => [el('dt', { text: k }), el('dd', {}, v)]));
	}

	function newCallForm() {
		const name = el('input', { id: 'new-name', placeholder: 'name (optional)' });
		const after = el('input', { id: 'new-after', type: 'number', min: '0', step: 'any', value: '10',
		    'aria-label': 'seconds from now' });
		const cmd = el('input', { id: 'new-command', placeholder: 'command, e.g. echo hello (split on spaces)' });
		const submit = async () => {
			const argv = cmd.value.trim().split(/\s+/).filter(Boolean);
			if (argv.length === 0) throw new Error('command: give a program to run');
			const body = { after: Number(after.value) || 0, command: { argv } };
			if (name.value.trim()) body.name = name.value.trim();
			const c = await api('POST', '/v1/calls', body);
			S.calls.set(c.id, c);
			cmd.value = '';
			render(true);
		};
		const form = el('details', { class: 'card', open: S.formOpen,
		    ontoggle: () => { S.formOpen = form.open; } }, el('summary', { text: 'Schedule a call' }),
		    el('div', { class: 'form' }, name,
		    el('label', {}, 'in ', after, ' seconds'), cmd,
		    el('div', { class: 'actions' }, el('button', { type: 'button', id: 'new-submit', text: 'Schedule',
		    onclick: () => act(submit) }))));
		return form;
	}

	function timeline(calls, horizon, label) {
		const line = el('div', { class: 'timeline', 'data-horizon': horizon },
		    el('span', { class: 'label', text: label }));
		for (const c of calls) {
			if (c.due_unix === undefined) continue;
			line.append(el('span', { class: 'tick', 'data-due': c.due_unix, title: (c.name || c.id) }));
		}
		return line;
	}

	function viewUpcoming(v) {
		if (can('calls-command')) v.append(newCallForm());
		const calls = [...S.calls.values()].filter((c) => c.state === 'pending' &&
		    c.phase !== 'running' && matches(c))
		    .sort((a, b) => (a.due_unix ?? Infinity) - (b.due_unix ?? Infinity));
		v.append(el('h2', { text: 'Upcoming (' + calls.length + ')' }));
		v.append(timeline(calls, 60, 'next minute'), timeline(calls, 3600, 'next hour'),
		    timeline(calls, 86400, 'next day'));
		if (S.schedules) {
			const occ = [];
			for (const s of S.schedules.values())
				for (const n of (s.next || []).slice(0, 3)) occ.push({ s, unix: n.unix });
			occ.sort((a, b) => a.unix - b.unix);
			for (const { s, unix } of occ.slice(0, 20)) {
				v.append(el('div', { class: 'card' }, el('div', { class: 'row' },
				    idLink(s), el('span', { text: s.name || '' }), el('span', { class: 'muted', text: 'schedule' }),
				    el('span', { class: 'countdown', 'data-due': unix }), el('span', { class: 'muted', text: localTime(unix) }))));
			}
		}
		for (const c of calls.slice(0, 500)) {
			v.append(card(c, el('div', { class: 'row' }, idLink(c),
			    el('b', { text: c.name || '' }),
			    c.phase === 'waiting' ? el('span', { class: 'muted', text: 'waits for ' + (c.on_done || '') }) :
			    el('span', { class: 'countdown', 'data-due': c.due_unix }),
			    c.due_unix !== undefined ? el('span', { class: 'muted', text: localTime(c.due_unix) }) : null),
			    el('div', { class: 'muted', text: actionText(c) }),
			    can('calls') ? el('div', { class: 'actions' }, button('Cancel', () => cancelCall(c.id), 'danger')) : null));
		}
		if (calls.length === 0) v.append(el('p', { class: 'muted', text: 'Nothing scheduled.' }));
	}

	function viewRunning(v) {
		const calls = [...S.calls.values()].filter((c) => c.phase === 'running' && matches(c))
		    .sort((a, b) => (a.started || 0) - (b.started || 0));
		v.append(el('h2', { text: 'Running (' + calls.length + ')' }));
		for (const c of calls) {
			v.append(card(c, el('div', { class: 'row' }, idLink(c), el('b', { text: c.name || '' }),
			    el('span', { class: 'elapsed', 'data-start': toUnix(c.started) }),
			    el('span', { class: 'muted', text: 'attempt ' + (c.attempts || 1) })),
			    el('div', { class: 'muted', text: actionText(c) }),
			    can('calls') ? el('div', { class: 'actions' }, button('Cancel', () => cancelCall(c.id), 'danger')) : null));
		}
		if (calls.length === 0) v.append(el('p', { class: 'muted', text: 'Nothing running.' }));
	}

	function outputBlocks(o) {
		const out = o.result && typeof o.result === 'object' ? o.result : o.exception || {};
		const blocks = [];
		for (const k of ['stdout', 'stderr']) {
			if (typeof out[k] === 'string' && out[k] !== '') blocks.push(el('div', {}, el('b', { text: k }),
			    el('pre', { class: k, text: out[k] })));
		}
		if (out.body !== undefined) blocks.push(el('div', {}, el('b', { text: 'reply body' }),
		    el('pre', { class: 'body', text: typeof out.body === 'string' ? out.body : JSON.stringify(out.body, null, 2) })));
		if (o.state === 'finished' && o.result !== undefined && (o.result === null || typeof o.result !== 'object' ||
		    (out.stdout === undefined && out.body === undefined)))
			blocks.push(el('div', {}, el('b', { text: 'result' }), el('pre', { text: JSON.stringify(o.result, null, 2) })));
		if (o.exception && o.exception.message) blocks.push(el('div', { class: 'error', text: o.exception.message }));
		return blocks;
	}

	function historyFacts(c) {
		const out = c.result && typeof c.result === 'object' ? c.result : c.exception || {};
		const duration = out.duration !== undefined ? out.duration :
		    (c.finished && c.started ? c.finished - c.started : null);
		const late = c.started && c.due !== undefined ? Math.max(0, c.started - c.due) : null;
		return [
			['outcome', outcomeOf(c)],
			['exit code', out.exit_code !== undefined ? String(out.exit_code) : undefined],
			['signal', out.signal !== undefined && out.signal !== null ? String(out.signal) : undefined],
			['HTTP status', c.webhook && out.status !== undefined ? String(out.status) : undefined],
			['duration', duration !== null ? secs(duration) : undefined],
			['lateness', late !== null ? secs(late) : undefined],
			['attempts', String(c.attempts || 0)],
			['finished', c.finished ? localTime(toUnix(c.finished)) : undefined],
		];
	}

	function callbacksBlock(id) {
		const cbs = callbacksOf(id);
		if (cbs.length === 0) return null;
		return el('div', {}, el('b', { text: 'done-callbacks' }), el('ul', {}, cbs.map((cb) =>
		    el('li', {}, idLink(cb), ' ', el('span', { class: stateClass(cb), text: outcomeOf(cb) }), ' ',
		    el('span', { class: 'muted', text: actionText(cb) })))));
	}

	function viewHistory(v) {
		const calls = [...S.calls.values()].filter((c) => c.state !== 'pending' && matches(c))
		    .sort((a, b) => (b.finished || 0) - (a.finished || 0));
		v.append(el('h2', { text: 'History (' + calls.length + ')' }));
		for (const c of calls.slice(0, HISTORY_SHOWN)) {
			v.append(card(c, el('div', { class: 'row' }, idLink(c), el('b', { text: c.name || '' }),
			    el('span', { class: stateClass(c) + ' outcome', text: outcomeOf(c) }),
			    el('span', { class: 'muted', text: actionText(c) })),
			    kv(historyFacts(c)),
			    el('details', { class: 'output' }, el('summary', { text: 'output' }), outputBlocks(c)),
			    callbacksBlock(c.id),
			    can('calls') ? el('div', { class: 'actions' }, button('Re-run', () => rerun(c))) : null));
		}
		if (calls.length === 0) v.append(el('p', { class: 'muted', text: 'No finished calls.' }));
	}

	async function viewCall(v, id) {
		let c = S.calls.get(id);
		try {
			c = await api('GET', '/v1/calls/' + encodeURIComponent(id));
			S.calls.set(id, c);
		} catch (e) {
			if (!c) {
				v.append(el('p', { class: 'error', text: e.message }));
				return;
			}
		}
		v.append(el('h2', {}, 'Call ', el('span', { class: 'id', text: c.id })));
		v.append(card(c, el('div', { class: 'row' }, el('b', { text: c.name || '' }),
		    el('span', { class: stateClass(c) + ' outcome', text: outcomeOf(c) })),
		    kv([['action', actionText(c)], ['trigger', c.trigger], ['phase', c.phase],
			['due', c.due_unix !== undefined ? localTime(c.due_unix) : undefined],
			['waits for', c.on_done]].concat(c.state !== 'pending' ? historyFacts(c) : [])),
		    c.state === 'pending' && c.phase !== 'running' && c.due_unix !== undefined ?
		    el('div', {}, 'due in ', el('span', { class: 'countdown', 'data-due': c.due_unix })) : null,
		    c.phase === 'running' ? el('div', {}, 'running for ', el('span', { class: 'elapsed', 'data-start': toUnix(c.started) })) : null,
		    outputBlocks(c), callbacksBlock(c.id),
		    can('calls') ? el('div', { class: 'actions' },
			c.state === 'pending' ? button('Cancel', () => cancelCall(c.id), 'danger') : null,
			c.command || c.webhook ? button('Re-run', () => rerun(c)) : null) : null,
		    el('details', {}, el('summary', { text: 'JSON' }), el('pre', { text: JSON.stringify(c, null, 2) }))));
	}

	function futureCard(f) {
		const parts = [el('div', { class: 'row' }, idLink(f), el('b', { text: f.name || '' }),
		    el('span', { class: stateClass(f) + ' outcome', text: f.state === 'finished' ?
		    (f.exception ? 'exception' : 'result') : f.state }),
		    el('span', { class: 'muted', text: 'created ' + localTime(toUnix(f.created)) }))];
		if (f.state === 'pending' && f.waiters !== undefined) {
			parts.push(el('div', { class: 'waiting muted' },
			    el('span', { class: 'waiters', text: f.waiters + (f.waiters === 1 ? ' waiter' : ' waiters') }), ' · ',
			    el('span', { class: 'callbacks', text: (f.callbacks || 0) + (f.callbacks === 1 ? ' callback' : ' callbacks') })));
		}
		if (f.state === 'finished') parts.push(el('pre', { text: JSON.stringify(f.exception || f.result, null, 2) }));
		parts.push(callbacksBlock(f.id));
		if (can('futures') && f.state === 'pending') {
			const val = el('input', { class: 'result-value', placeholder: 'result as JSON, e.g. {"ok": true}',
			    'aria-label': 'result' });
			const etype = el('input', { class: 'exc-type', placeholder: 'exception type', value: 'Error' });
			const emsg = el('input', { class: 'exc-message', placeholder: 'message' });
			const settle = async (path, body) => {
				const r = await api('POST', '/v1/futures/' + f.id + path, body);
				if (r && r.id) S.futures.set(r.id, r);
				wantObject('future', f.id);
				render(true);
			};
			parts.push(el('div', { class: 'form' }, val,
			    el('div', { class: 'actions' },
				button('Resolve', () => {
					let result;
					try { result = JSON.parse(val.value.trim() || 'null'); } catch (e) {
						throw new Error('result: not JSON (' + e.message + ')');
					}
					return settle('/result', { result });
				}), etype, emsg,
				button('Reject', () => settle('/exception', { type: etype.value || 'Error', message: emsg.value || '' })),
				button('Cancel', () => settle('/cancel', undefined), 'danger'))));
		}
		return card(f, ...parts);
	}

	function viewFutures(v, id) {
		if (can('futures')) v.append(el('div', { class: 'actions' }, button('New future', async () => {
			const f = await api('POST', '/v1/futures', {});
			S.futures.set(f.id, f);
			location.hash = '#/futures/' + f.id;
		})));
		let fs = [...S.futures.values()].filter(matches);
		if (id) fs = fs.filter((f) => f.id === id);
		fs.sort((a, b) => (a.state === 'pending') === (b.state === 'pending') ?
		    (b.created || 0) - (a.created || 0) : a.state === 'pending' ? -1 : 1);
		v.append(el('h2', { text: 'Futures (' + fs.filter((f) => f.state === 'pending').length + ' pending)' }));
		for (const f of fs.slice(0, 500)) v.append(futureCard(f));
		if (fs.length === 0) v.append(el('p', { class: 'muted', text: id ? 'No such future: ' + id : 'No futures.' }));
	}

	function viewSchedules(v, id) {
		if (S.schedules === null) {
			v.append(el('p', { class: 'muted', text: 'This loopd has no recurring schedules (GET /v1/schedules is not there).' }));
			return;
		}
		let ss = [...S.schedules.values()].filter(matches);
		if (id) ss = ss.filter((s) => s.id === id);
		v.append(el('h2', { text: 'Schedules (' + ss.length + ')' }));
		for (const s of ss) {
			const spec = s.cron !== undefined ? 'cron ' + s.cron : s.every !== undefined ? 'every ' + secs(s.every) :
			    s.calendar !== undefined ? 'calendar ' + s.calendar : '';
			const op = (what) => async () => {
				const r = await api('POST', '/v1/schedules/' + s.id + '/' + what, {});
				if (r && r.kind === 'call') S.calls.set(r.id, r);
				await loadSchedules();
				render(true);
			};
			/* A run's state as the calls seen live know it (the
			 * schedule's own list is as of its last change). */
			const run = (r) => {
				const c = S.calls.get(r.call);
				const st = c ? outcomeOf(c) : r.outcome || r.phase || r.state || '';
				return el('li', { 'data-call': r.call }, el('a', { class: 'id', href: '#/calls/' + r.call, text: r.call }), ' ',
				    el('span', { class: (c ? stateClass(c) : '') + ' run-state', text: st }), ' ',
				    el('span', { class: 'muted', text: localTime(r.scheduled_for) }),
				    r.lateness !== undefined ? el('span', { class: 'muted', text: ' late ' + secs(r.lateness) }) : null);
			};
			v.append(card(s, el('div', { class: 'row' }, idLink(s), el('b', { text: s.name || '' }),
			    el('span', { class: 'outcome sched-state', text: s.state || '' }), el('span', { class: 'spec', text: spec }),
			    el('span', { class: 'muted tz', text: s.tz || '' }),
			    el('span', { class: 'muted', text: actionText(s) })),
			    el('div', {}, el('b', { text: 'next' }), el('ul', { class: 'next' }, (s.state === 'paused' ? [] : s.next || []).slice(0, 5).map((n) =>
				el('li', {}, el('span', { class: 'countdown', 'data-due': n.unix }), ' ', n.local || localTime(n.unix))))),
			    el('div', {}, el('b', { text: 'last runs' }), el('ul', { class: 'recent' },
				(s.recent || []).slice(-5).reverse().map(run))),
			    can('calls') ? el('div', { class: 'actions' },
				s.state === 'paused' ? button('Resume', op('resume')) : button('Pause', op('pause')),
				button('Trigger now', op('trigger'))) : null));
		}
		if (ss.length === 0) v.append(el('p', { class: 'muted', text: id ? 'No such schedule: ' + id : 'No schedules.' }));
	}

	/* Prometheus text -> [{name, labels, value}]. */
	function parseMetrics(text) {
		const out = [];
		for (const line of text.split('\n')) {
			if (!line || line.startsWith('#')) continue;
			const m = /^([a-zA-Z_:][\w:]*)(\{([^}]*)\})?\s+(\S+)/.exec(line);
			if (!m) continue;
			const labels = {};
			for (const p of (m[3] || '').matchAll(/(\w+)="([^"]*)"/g)) labels[p[1]] = p[2];
			out.push({ name: m[1], labels, value: Number(m[4]) });
		}
		return out;
	}

	async function loadMetrics() {
		const r = await fetch('/metrics', { headers: { 'Authorization': 'Bearer ' + token() }, cache: 'no-store' });
		if (!r.ok) throw new Error('/metrics: ' + r.status);
		S.prevMetrics = S.metrics;
		S.metrics = { at: now(), samples: parseMetrics(await r.text()) };
	}

	function metric(name, labels) {
		if (!S.metrics) return null;
		const s = S.metrics.samples.find((x) => x.name === name &&
		    Object.entries(labels || {}).every(([k, v]) => x.labels[k] === v));
		return s ? s.value : null;
	}

	function viewHealth(v) {
		v.append(el('h2', { text: 'Health' }));
		if (!S.metrics) {
			v.append(el('p', { class: 'muted', text: 'Loading /metrics…' }));
			loadMetrics().then(() => render(true)).catch((e) => message(e.message));
			return;
		}
		let rate = null;
		if (S.prevMetrics) {
			const prev = S.prevMetrics.samples.find((x) => x.name === 'loopd_calls_started_total');
			const cur = metric('loopd_calls_started_total');
			const dt = S.metrics.at - S.prevMetrics.at;
			if (prev && cur !== null && dt > 0) rate = (cur - prev.value) / dt;
		}
		const stat = (label, value) => el('div', { class: 'card stat' }, el('b', { text: value === null ? '–' : String(value) }), label);
		v.append(el('div', { class: 'grid' },
		    stat('calls started / s', rate === null ? null : rate.toFixed(1)),
		    stat('calls pending', metric('loopd_pending_calls')),
		    stat('futures pending', metric('loopd_pending_futures')),
		    stat('commands running', metric('loopd_commands_running')),
		    stat('commands queued', metric('loopd_commands_queued')),
		    stat('webhooks in flight', metric('loopd_webhooks_running')),
		    stat('webhooks queued', metric('loopd_webhooks_queued')),
		    stat('store', metric('loopd_store_writable') === 1 ? 'writable' : 'NOT writable'),
		    stat('connections', metric('loopd_connections')),
		    stat('event streams', metric('loopd_event_streams'))));
		/* The lateness histogram: cumulative buckets into counts per bucket. */
		const buckets = S.metrics.samples.filter((x) => x.name === 'loopd_call_lateness_seconds_bucket');
		const bars = [];
		let prev = 0;
		for (const b of buckets) {
			bars.push({ le: b.labels.le, n: b.value - prev });
			prev = b.value;
		}
		const max = Math.max(1, ...bars.map((b) => b.n));
		const chart = el('div', { class: 'chart', id: 'lateness-chart', role: 'img', 'aria-label': 'lateness histogram' });
		const labels = el('div', { class: 'chart-labels' });
		for (const b of bars) {
			const bar = el('div', { class: 'bar', title: '≤ ' + b.le + ' s: ' + b.n + ' calls' });
			bar.style.height = (100 * b.n / max) + '%';
			chart.append(bar);
			labels.append(el('span', { text: b.le === '+Inf' ? '>' : (Number(b.le) < 1 ? (Number(b.le) * 1000) + 'ms' : b.le + 's') }));
		}
		v.append(el('h3', { text: 'Lateness (started minus due), calls per bucket' }), chart, labels);
		const sum = metric('loopd_call_lateness_seconds_sum'), count = metric('loopd_call_lateness_seconds_count');
		v.append(el('p', { class: 'muted', text: count ? 'mean lateness ' + secs(sum / count) + ' over ' + count + ' calls' : 'no calls started yet' }));
	}

	/* ---- routing and rendering ---- */

	function route() {
		const h = location.hash.replace(/^#\/?/, '');
		const [view, id] = h.split('/');
		return { view: view || 'upcoming', id: id ? decodeURIComponent(id) : null };
	}

	/* Rebuild the view; skipped while the user types in it (done on
	 * blur), unless forced. */
	function render(force) {
		const a = document.activeElement;
		if (!force && a && $('view').contains(a) && (a.tagName === 'INPUT' || a.tagName === 'TEXTAREA')) {
			S.renderWanted = true;
			return;
		}
		S.renderWanted = false;
		const { view, id } = route();
		for (const n of document.querySelectorAll('#nav a'))
			n.classList.toggle('active', n.dataset.view === view || (view === 'calls' && n.dataset.view === 'history'));
		/* What was typed into a card's fields survives the rebuild. */
		const typed = new Map();
		for (const i of $('view').querySelectorAll('.card[data-id] input'))
			typed.set(i.closest('.card').dataset.id + ' ' + i.className, i.value);
		const v = el('div', { id: 'view' });
		if (view === 'calls' && id) {
			viewCall(v, id).then(tick);
		} else if (view === 'running') viewRunning(v);
		else if (view === 'history') viewHistory(v);
		else if (view === 'futures') viewFutures(v, id);
		else if (view === 'schedules') viewSchedules(v, id);
		else if (view === 'health') viewHealth(v);
		else viewUpcoming(v);
		$('view').replaceWith(v);
		for (const i of v.querySelectorAll('.card[data-id] input')) {
			const k = i.closest('.card').dataset.id + ' ' + i.className;
			if (typed.has(k)) i.value = typed.get(k);
		}
		tick();
	}

	/* Countdowns, elapsed times and timeline ticks follow the clock. */
	function tick() {
		const t = now();
		for (const e of document.querySelectorAll('.countdown[data-due]')) {
			const d = Number(e.dataset.due) - t;
			e.textContent = d > 0 ? 'in ' + secs(d) : 'due ' + secs(-d) + ' ago';
		}
		for (const e of document.querySelectorAll('.elapsed[data-start]'))
			e.textContent = secs(t - Number(e.dataset.start));
		for (const line of document.querySelectorAll('.timeline')) {
			const h = Number(line.dataset.horizon);
			for (const k of line.querySelectorAll('.tick')) {
				const d = Number(k.dataset.due) - t;
				k.hidden = d < 0 || d > h;
				k.style.left = Math.max(0, Math.min(100, 100 * d / h)) + '%';
			}
		}
	}

	/* ---- login ---- */

	function logout(why) {
		sessionStorage.removeItem(TOKEN_KEY);
		S.scopes = undefined;
		delete $('app').dataset.scopes;
		S.started = false;
		closeStream();
		stopPolling();
		setLive('off');
		$('app').hidden = true;
		$('logout').hidden = true;
		$('login').hidden = false;
		$('login-error').textContent = why || '';
	}

	async function start() {
		$('login').hidden = true;
		$('app').hidden = false;
		$('logout').hidden = false;
		$('readonly').hidden = canWrite();
		S.started = true;
		openStream();
		try {
			await loadScopes();
			await loadAll();
		} catch (e) {
			message(e.message);
			setLive('poll');
			startPolling(POLL_MS);
		}
	}

	async function init() {
		try {
			const r = await fetch('/ui/console.json', { cache: 'no-store' });
			S.mode = (await r.json()).console;
		} catch (e) {
			S.mode = 'read-only';
		}
		$('login-form').addEventListener('submit', async (ev) => {
			ev.preventDefault();
			const t = $('token').value.trim();
			if (!t) return;
			sessionStorage.setItem(TOKEN_KEY, t);
			try {
				await api('GET', '/v1/time');
			} catch (e) {
				if (e.status !== 401) $('login-error').textContent = e.message;
				if (e.status) sessionStorage.removeItem(TOKEN_KEY);
				return;
			}
			$('token').value = '';
			start();
		});
		$('logout').addEventListener('click', () => logout(''));
		$('search').addEventListener('input', () => render(true));
		$('state-filter').addEventListener('change', () => render(true));
		document.addEventListener('focusout', () => {
			if (S.renderWanted) setTimeout(() => render(), 0);
		});
		window.addEventListener('hashchange', () => {
			if (route().view === 'health') S.metrics = null;
			if (route().view === 'futures') refreshPendingFutures().catch(() => {});
			render(true);
		});
		setInterval(tick, 250);
		setInterval(() => {
			if (S.started && route().view === 'health' && !document.hidden)
				loadMetrics().then(() => render()).catch(() => {});
			/* Waiters come and go without a change event: while the
			 * Futures view is shown, its pending futures are read again. */
			if (S.started && route().view === 'futures' && !document.hidden)
				refreshPendingFutures().catch(() => {});
		}, 2000);
		if (token()) start();
		else logout('');
	}

	init();
})();
