-- POST /whatsapp/webhook with the mix Green API sends a busy shop (README, "Benchmark"):
--   ~80% incoming text from 10,000 numbers, ~5% media (image, document), ~8% outgoingAPIMessageReceived,
--   ~5% outgoingMessageStatus for this thread's earlier outbound ids, ~2% exact redeliveries.
--
-- wrk gives each thread its own Lua state and interleaves its 8 connections, so a response cannot be
-- matched to its request here. Instead request() logs what it sent (one identity per distinct
-- notification) and response() logs the notificationId of every 200; bench.py joins both with the
-- database afterwards.
local report = dofile("bench/report.lua")

local INSTANCE = 1103123456
local WID = "77017654321@c.us"
local POOL = 10000
local RUN = os.getenv("BENCH_RUN_ID") or "00000000"
-- The cold start: numbers taken in turn, not at random, so the first 10,000 messages each come from a
-- number that has never written (bench.py empties the client book first).
local COLD = os.getenv("BENCH_COLD") == "1"
local THREADS = tonumber(os.getenv("BENCH_THREADS") or "2")
local HEADERS = {
  ["Content-Type"] = "application/json",
  ["Authorization"] = "Bearer " .. (os.getenv("BENCH_WEBHOOK_TOKEN") or ""),
}

-- ---------------------------------------------------------------------------------------------
-- The main state: one entry per thread, read back in done().

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

-- ---------------------------------------------------------------------------------------------
-- Who writes: 10,000 numbers, 60% Russian, 20% Kazakh, 20% Brazilian. The prefixes make sure no
-- number contains another (the webhook's "contained number" rule would merge them).

local RU = { men = { "Алексей", "Дмитрий", "Сергей", "Иван" }, women = { "Анна", "Мария", "Елена", "Ольга" } }
local KZ = { men = { "Ерлан", "Нурлан", "Данияр", "Арман" }, women = { "Айгерим", "Асель", "Жанар", "Динара" } }
local BR = { men = { "João", "Pedro", "Lucas", "Rafael" }, women = { "Maria", "Ana", "Juliana", "Camila" } }
local KZ_PREFIXES = { "7701", "7705", "7707", "7747", "7771", "7777" }
local BR_PREFIXES = { "55119", "55219", "55319", "55619" }

local TEXTS = {
  [RU] = { "Здравствуйте! Хочу заказать доставку на завтра 🚚 Сколько стоит?", "Добрый день, где мой заказ?",
    "Спасибо, всё получила 👍", "Можно перенести доставку на вечер?", "Курьер не приехал, что случилось?" },
  [KZ] = { "Сәлеметсіз бе! Тапсырысым қашан келеді?", "Рахмет, алдым 🙏", "Можно оплатить через Kaspi?" },
  [BR] = { "Olá! Meu pedido já foi enviado?", "Bom dia, vocês entregam no sábado?", "Posso pagar com Pix?" },
}
local REPLIES = {
  [RU] = { "Здравствуйте! Ваш заказ передан курьеру 📦", "Доставка завтра с 10:00 до 14:00, удобно?" },
  [KZ] = { "Сәлеметсіз бе! Тапсырысыңыз жолда 🚚", "Kaspi QR отправили, проверьте, пожалуйста." },
  [BR] = { "Olá! Seu pedido foi enviado 📦 Código de rastreio: BR123456789XX", "Sim, aceitamos Pix!" },
}

local function person(i)
  local country, number
  local c = i % 10
  -- Multiplying by a prime below the modulus keeps the numbers of one country distinct.
  if c < 6 then
    country, number = RU, string.format("79%09d", (i * 7919 + 104729) % 1000000000)
  elseif c < 8 then
    country = KZ
    number = KZ_PREFIXES[math.floor(i / 10) % #KZ_PREFIXES + 1] .. string.format("%07d", (i * 7919 + 13) % 10000000)
  else
    country = BR
    number = BR_PREFIXES[math.floor(i / 10) % #BR_PREFIXES + 1] .. string.format("%08d", (i * 7919 + 17) % 100000000)
  end
  local names = (math.floor(i / 100) % 2 == 0) and country.men or country.women
  return { number = number, name = names[math.floor(i / 1000) % #names + 1], country = country }
end

local people = {}
for i = 0, POOL - 1 do
  people[i + 1] = person(i)
end

-- ---------------------------------------------------------------------------------------------
-- Bodies, in Green API's shapes (/work/shared/greenapi/payloads).

local function pick(list)
  return list[math.random(#list)]
end

local function message_body(type_webhook, id, p, sender, sender_name, message_data)
  return string.format('{"typeWebhook":"%s","instanceData":{"idInstance":%d,"wid":"%s","typeInstance":"whatsapp"},'
    .. '"timestamp":%d,"idMessage":"%s","senderData":{"chatId":"%s@c.us","chatName":"%s","sender":"%s",'
    .. '"senderName":"%s","senderContactName":"%s"},"messageData":%s}',
    type_webhook, INSTANCE, WID, os.time(), id, p.number, p.name, sender, sender_name, p.name, message_data)
end

local function text_data(text)
  return string.format('{"typeMessage":"textMessage","textMessageData":{"textMessage":"%s"}}', text)
end

local THUMBNAIL = "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAgGBgcGBQgHBwcJCQgKDBQNDAsLDBkSEw8UHRofHh0aHBwgJC4nICIsIxwcKDcp"

local function media_data(id)
  local image = math.random() < 0.6
  return string.format('{"typeMessage":"%s","fileMessageData":{"downloadUrl":"https://sw-media-1103.storage.'
    .. 'yandexcloud.net/%d/%s.%s","caption":"%s","fileName":"%s.%s","jpegThumbnail":"%s","mimeType":"%s",'
    .. '"forwardingScore":0,"isForwarded":false}}',
    image and "imageMessage" or "documentMessage", INSTANCE, id, image and "jpg" or "pdf",
    image and "Вот фото 📦" or "Реквизиты для счёта", id, image and "jpg" or "pdf", image and THUMBNAIL or "",
    image and "image/jpeg" or "application/pdf")
end

local function status_body(entry, status)
  return string.format('{"typeWebhook":"outgoingMessageStatus","chatId":"%s@c.us","instanceData":{"idInstance":%d,'
    .. '"wid":"%s","typeInstance":"whatsapp"},"timestamp":%d,"idMessage":"%s","status":"%s","sendByApi":true}',
    entry.number, INSTANCE, WID, os.time(), entry.id, status)
end

-- ---------------------------------------------------------------------------------------------
-- Each thread's state.

local counter = 0     -- ids made by this thread
local turn = 0        -- numbers taken in turn by this thread (cold start)
local posted = 0      -- first deliveries sent by this thread
local outbound = {}  -- { id, number, statuses, next } of every outgoing message this thread sent
local recent = {}    -- the last requests sent, for exact redeliveries
local RECENT = 256
sent = { text = 0, media = 0, outgoing = 0, status = 0, redelivery = 0 }
idents = {}          -- "typeWebhook\tidMessage\tstatus" of every distinct notification sent
acks = {}            -- notificationId -> 200 answers
codes = {}           -- HTTP status -> answers

function init(args)
  math.randomseed(tid * 1000003 + os.time())
end

local function next_id(prefix)
  counter = counter + 1
  return string.format("%s%s%02d%014d", prefix, RUN, tid, counter)
end

local function post(kind, body, type_webhook, id, status)
  sent[kind] = sent[kind] + 1
  idents[#idents + 1] = type_webhook .. "\t" .. id .. "\t" .. status
  local req = wrk.format("POST", "/whatsapp/webhook", HEADERS, body)
  posted = posted + 1
  recent[(posted - 1) % RECENT + 1] = req
  return req
end

local function someone()
  if not COLD then
    return people[math.random(POOL)]
  end
  turn = turn + 1
  return people[((turn - 1) * THREADS + tid - 1) % POOL + 1]
end

local function incoming(kind)
  local p = someone()
  local id = next_id("A")
  local data = kind == "media" and media_data(id) or text_data(pick(TEXTS[p.country]))
  return post(kind, message_body("incomingMessageReceived", id, p, p.number .. "@c.us", p.name, data),
    "incomingMessageReceived", id, "")
end

local function outgoing()
  local p = someone()
  local id = next_id("3EB0")
  local statuses = math.random() < 0.9 and { "sent", "delivered", "read" } or { "sent", "failed" }
  outbound[#outbound + 1] = { id = id, number = p.number, statuses = statuses, next = 1 }
  local body = message_body("outgoingAPIMessageReceived", id, p, WID, "Demo Shop", text_data(pick(REPLIES[p.country])))
  return post("outgoing", body, "outgoingAPIMessageReceived", id, "")
end

-- A status for one of this thread's recent outbound messages, skipping the last 8 (one per
-- connection) that may still be in flight; nil when none is left to report.
local function status()
  local last = #outbound - 8
  if last < 1 then
    return nil
  end
  local first = math.max(1, last - 500)
  for _ = 1, 4 do
    local entry = outbound[math.random(first, last)]
    if entry.next <= #entry.statuses then
      local s = entry.statuses[entry.next]
      entry.next = entry.next + 1
      return post("status", status_body(entry, s), "outgoingMessageStatus", entry.id, s)
    end
  end
  return nil
end

function request()
  -- wrk 4 calls request() once more in the first thread to check the script, and never sends that
  -- request: a first request that is plain text leaves no outbound id behind for statuses to follow.
  if posted == 0 then
    return incoming("text")
  end
  local r = math.random()
  if r < 0.02 then
    sent.redelivery = sent.redelivery + 1
    return recent[math.random(math.min(posted, RECENT))]
  end
  if r < 0.07 then
    local req = status()
    if req then
      return req
    end
  elseif r < 0.15 then
    return outgoing()
  elseif r < 0.20 then
    return incoming("media")
  end
  return incoming("text")
end

function response(code, headers, body)
  codes[code] = (codes[code] or 0) + 1
  if code == 200 then
    local id = string.match(body, '"notificationId":%s*(%d+)')
    if id then
      acks[id] = (acks[id] or 0) + 1
    end
  end
end

-- ---------------------------------------------------------------------------------------------

function done(summary, latency, requests)
  local f = report.open()
  report.summary(f, summary, latency)
  for _, thread in ipairs(threads) do
    for kind, n in pairs(thread:get("sent")) do
      f:write("sent\t", kind, "\t", n, "\n")
    end
    for code, n in pairs(thread:get("codes")) do
      f:write("code\t", code, "\t", n, "\n")
    end
    for id, n in pairs(thread:get("acks")) do
      f:write("ack\t", id, "\t", n, "\n")
    end
    for _, ident in ipairs(thread:get("idents")) do
      f:write("ident\t", ident, "\n")
    end
  end
  report.close(f)
end
