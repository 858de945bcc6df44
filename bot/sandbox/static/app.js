// The sandbox phone: act as a resident, chat with the OA, and watch the OA's groups.
"use strict";

const API = "/sandbox/api";
const state = { users: [], groups: [], user: null, group: null, lastChat: "", lastGroup: "" };
const $ = (id) => document.getElementById(id);

async function call(method, path, body) {
  const init = { method, headers: {} };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const resp = await fetch(API + path, init);
  const data = await resp.json().catch(() => ({}));
  if (!resp.ok) throw new Error(data.error || ("Lỗi " + resp.status));
  return data;
}

function showError(err) {
  $("error").textContent = err ? "Không thực hiện được: " + err.message : "";
}

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
}

// Zalo shows links in a message as links, and in a group a "[@<id>]" in the text as "@Name":
// so does the phone page (text stays text, never HTML). `mentionName` is null outside groups.
function richText(text, mentionName) {
  const span = el("span", "text");
  for (const part of text.split(/(https?:\/\/[^\s]+|\[@\d+\])/)) {
    const mention = mentionName ? /^\[@(\d+)\]$/.exec(part) : null;
    if (mention) {
      span.appendChild(el("span", "mention", mentionName(mention[1])));
    } else if (/^https?:\/\//.test(part)) {
      const link = el("a", "", part);
      link.href = part;
      link.target = "_blank";
      link.rel = "noopener";
      span.appendChild(link);
    } else if (part) {
      span.appendChild(document.createTextNode(part));
    }
  }
  return span;
}

// The group's own id mentions everyone; an id the sandbox does not know stays visible as it is.
function groupMentionName(groupId) {
  return (id) => {
    if (id === groupId) return "@Tất cả";
    const user = state.users.find((u) => u.user_id === id);
    return "@" + (user ? user.name : id);
  };
}

function currentUser() {
  return state.users.find((u) => u.user_id === state.user);
}

// "Trưởng ấp · Ấp Tân Lập", "Người dân · Ấp Phú Lợi", "Cán bộ xã": whom the tester acts as.
function roleLine(user) {
  return user.role_label + (user.hamlet ? " · " + user.hamlet : "");
}

function renderPerson() {
  const user = currentUser();
  $("person-name").textContent = user ? user.name : "";
  $("person-role").textContent = user ? roleLine(user) : "";
}

function renderFollow() {
  const user = currentUser();
  $("follow-status").textContent = user ? (user.follower ? "Đã quan tâm" : "Chưa quan tâm") : "";
  $("follow-button").hidden = !user || user.follower;
  $("unfollow-button").hidden = !user || !user.follower;
}

function attachmentNodes(msg) {
  const nodes = [];
  for (const att of msg.attachments || []) {
    const payload = att.payload || {};
    if (att.type === "buttons") {
      const box = el("div", "buttons");
      for (const b of payload.buttons || []) {
        const btn = el("button", "", b.title || "Nút");
        btn.type = "button";
        btn.dataset.testid = "oa-button";
        btn.addEventListener("click", () => pressButton(b));
        box.appendChild(btn);
      }
      nodes.push(box);
    } else if (payload.url) {
      const link = el("a", "", "[" + att.type + "] mở tệp");
      link.href = payload.url;
      link.target = "_blank";
      link.rel = "noopener";
      nodes.push(el("br"), link);
    } else {
      nodes.push(el("span", "who", "[" + att.type + "]"));
    }
  }
  return nodes;
}

function renderChat(messages) {
  const key = JSON.stringify(messages.map((m) => [m.msg_id, m.seen, m.received]));
  if (key === state.lastChat) return;
  state.lastChat = key;
  const box = $("chat");
  box.textContent = "";
  if (!messages.length) box.appendChild(el("p", "empty", "Chưa có tin nhắn. Hãy hỏi OA một câu."));
  for (const m of messages) {
    const node = el("div", "msg " + (m.from === "oa" ? "oa" : "user"));
    node.dataset.msgId = m.msg_id;
    if (m.from === "oa") {
      node.appendChild(el("span", "who", m.sent_by === "oa_manager" ? "Cán bộ (OA Manager)" : m.sender_name));
    }
    if (m.text) node.appendChild(richText(m.text, null));
    for (const n of attachmentNodes(m)) node.appendChild(n);
    let meta = m.time_local;
    if (m.from === "oa") meta += m.seen ? " · Đã xem" : (m.received ? " · Đã nhận" : "");
    node.appendChild(el("span", "meta", meta));
    box.appendChild(node);
  }
  box.scrollTop = box.scrollHeight;
}

function renderGroup(messages) {
  const key = state.group + JSON.stringify(messages.map((m) => m.msg_id));
  if (key === state.lastGroup) return;
  state.lastGroup = key;
  const box = $("group-chat");
  box.textContent = "";
  if (!messages.length) box.appendChild(el("p", "empty", "Nhóm chưa có tin nhắn."));
  for (const m of messages) {
    let cls = "msg group " + (m.from === "oa" ? "from-oa" : "from-user");
    if (m.sender_id === state.user) cls += " mine";
    const node = el("div", cls);
    node.dataset.msgId = m.msg_id;
    node.appendChild(el("span", "who", m.sender_name));
    if (m.text) node.appendChild(richText(m.text, groupMentionName(state.group)));
    for (const n of attachmentNodes(m)) node.appendChild(n);
    node.appendChild(el("span", "meta", m.time_local));
    box.appendChild(node);
  }
  box.scrollTop = box.scrollHeight;
  const group = state.groups.find((g) => g.group_id === state.group);
  const member = group && group.members.some((x) => x.user_id === state.user);
  $("group-note").textContent = member ? "" : "Người dân đang chọn không ở trong nhóm này, nên chỉ xem được.";
  $("group-input").disabled = $("group-send-button").disabled = !member;
}

async function refresh() {
  try {
    if (state.user) renderChat((await call("GET", "/users/" + state.user + "/chat")).messages);
    if (state.group && !$("groups-panel").hidden) {
      renderGroup((await call("GET", "/groups/" + state.group + "/chat")).messages);
    }
  } catch (err) {
    showError(err);
  }
}

async function reloadUsers() {
  state.users = (await call("GET", "/users")).users;
  renderFollow();
}

// The box grows with its lines (up to the CSS max-height, then it scrolls), as Zalo's does.
function fitHeight(box) {
  box.style.height = "";
  if (!box.value) return;
  box.style.height = box.scrollHeight + (box.offsetHeight - box.clientHeight) + "px";
}

// Enter starts a new line, as on a phone: a post like "#thongbao" has its text on the next
// lines. The button sends, and so does Ctrl+Enter (⌘+Enter) on a keyboard.
function composer(box, form) {
  box.addEventListener("input", () => fitHeight(box));
  box.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
}

function setBox(box, text) {
  box.value = text;
  fitHeight(box);
}

async function send(event) {
  event.preventDefault();
  const input = $("message-input");
  const text = input.value.trim();
  if (!text || !state.user) return;
  setBox(input, "");
  try {
    await call("POST", "/users/" + state.user + "/messages", { text });
    showError(null);
  } catch (err) {
    setBox(input, text);
    showError(err);
  }
  refresh();
}

async function pressButton(button) {
  // oa.query.* buttons come back to the OA as the user's text; links just open.
  const payload = button.payload;
  if (button.type === "oa.open.url" && payload && payload.url) {
    window.open(payload.url, "_blank", "noopener");
    return;
  }
  if (typeof payload === "string") {
    await call("POST", "/users/" + state.user + "/messages", { text: payload }).catch(showError);
    refresh();
  }
}

async function sendGroup(event) {
  event.preventDefault();
  const input = $("group-input");
  const text = input.value.trim();
  if (!text || !state.group) return;
  setBox(input, "");
  try {
    await call("POST", "/groups/" + state.group + "/messages", { user_id: state.user, text });
    showError(null);
  } catch (err) {
    setBox(input, text);
    showError(err);
  }
  refresh();
}

async function act(path) {
  try {
    await call("POST", "/users/" + state.user + path, {});
    await reloadUsers();
    showError(null);
  } catch (err) {
    showError(err);
  }
  refresh();
}

function showTab(name) {
  const chat = name === "chat";
  $("chat-panel").hidden = !chat;
  $("groups-panel").hidden = chat;
  $("tab-chat").classList.toggle("active", chat);
  $("tab-groups").classList.toggle("active", !chat);
  state.lastGroup = "";
  refresh();
}

function pickDefaultGroup() {
  const mine = state.groups.find((g) => g.members.some((m) => m.user_id === state.user));
  state.group = (mine || state.groups[0] || {}).group_id || null;
  $("group-select").value = state.group || "";
}

async function start() {
  try {
    await reloadUsers();
    state.groups = (await call("GET", "/groups")).groups;
  } catch (err) {
    showError(err);
    return;
  }
  const select = $("resident-select");
  for (const u of state.users) {
    const opt = el("option", "", u.name + " · " + roleLine(u));
    opt.value = u.user_id;
    select.appendChild(opt);
  }
  const groupSelect = $("group-select");
  for (const g of state.groups) {
    const opt = el("option", "", g.name);
    opt.value = g.group_id;
    groupSelect.appendChild(opt);
  }
  const wanted = new URLSearchParams(location.search).get("user");
  state.user = state.users.some((u) => u.user_id === wanted) ? wanted : (state.users[0] || {}).user_id;
  select.value = state.user;
  pickDefaultGroup();
  renderPerson();
  renderFollow();

  select.addEventListener("change", () => {
    state.user = select.value;
    state.lastChat = "";
    state.lastGroup = "";
    pickDefaultGroup();
    renderPerson();
    renderFollow();
    refresh();
  });
  groupSelect.addEventListener("change", () => {
    state.group = groupSelect.value;
    state.lastGroup = "";
    refresh();
  });
  $("send-form").addEventListener("submit", send);
  $("group-form").addEventListener("submit", sendGroup);
  composer($("message-input"), $("send-form"));
  composer($("group-input"), $("group-form"));
  $("seen-button").addEventListener("click", () => act("/seen"));
  $("follow-button").addEventListener("click", () => act("/follow"));
  $("unfollow-button").addEventListener("click", () => act("/unfollow"));
  $("tab-chat").addEventListener("click", () => showTab("chat"));
  $("tab-groups").addEventListener("click", () => showTab("groups"));
  refresh();
  setInterval(refresh, 1000);
}

start();
