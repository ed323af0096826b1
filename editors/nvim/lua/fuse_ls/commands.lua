--- fuse-ls: the server's commands (workspace/executeCommand), tracked for cancel.
local client = require('fuse_ls.client')
local config = require('fuse_ls.config')
local range = require('fuse_ls.range')
local results = require('fuse_ls.results')
local state = require('fuse_ls.state')

local M = {}

local notify = client.notify

--- Run a fuse-ls command through workspace/executeCommand and track it for :FuseCancel.
--- @param command string  e.g. 'fuse-ls.review'
--- @param args table  the argument object
--- @param opts? { bufnr?: integer, client?: vim.lsp.Client, on_result?: fun(err: lsp.ResponseError?, result: any) }
--- @return integer? request_id
function M.execute(command, args, opts)
  opts = opts or {}
  local bufnr = vim._resolve_bufnr(opts.bufnr or 0)
  local c = opts.client or client.attached(bufnr)
  if not c then
    if opts.on_result then
      opts.on_result({ code = -32603, message = 'fuse-ls is not attached' }, nil)
    end
    return nil
  end
  local request_id
  local finished = false
  local function on_response(err, result)
    if finished then
      return
    end
    finished = true
    if request_id then
      state.inflight[request_id] = nil
    end
    state.last_result[command] = { err = err, result = result }
    results.show(command, err, result)
    if opts.on_result then
      opts.on_result(err, result)
    end
  end
  local ok
  ok, request_id = c:request('workspace/executeCommand', {
    command = command,
    arguments = { args },
  }, on_response, bufnr)
  if not ok then
    notify('could not send ' .. command .. ' (server stopped?)', vim.log.levels.ERROR)
    return nil
  end
  if not finished and command ~= config.commands.cancel and command ~= config.commands.stats then
    state.inflight[request_id] = {
      client_id = c.id,
      bufnr = bufnr,
      uri = args and args.uri,
      command = command,
      finish = on_response,
    }
  end
  return request_id
end

--- A fusion command on a buffer: the range given, the Visual selection, the lines, or
--- (none of these) the whole document.
local function fusion_command(command)
  --- @param opts? { bufnr?: integer, range?: lsp.Range, line1?: integer, line2?: integer, visual?: boolean, on_result?: function }
  return function(opts)
    opts = opts or {}
    local bufnr = vim._resolve_bufnr(opts.bufnr or 0)
    local c = client.attached(bufnr)
    if not c then
      return nil
    end
    local encoding = c.offset_encoding or 'utf-16'
    local r = opts.range
    if not r and opts.visual then
      r = range.visual(bufnr, encoding)
    elseif not r and opts.line1 then
      r = range.lines(bufnr, opts.line1, opts.line2 or opts.line1, encoding)
    end
    local args = { uri = vim.uri_from_bufnr(bufnr) }
    if r then
      args.range = r
    end
    return M.execute(command, args, { bufnr = bufnr, client = c, on_result = opts.on_result })
  end
end

M.review = fusion_command(config.commands.review)
M.explain = fusion_command(config.commands.explain)
M.fix = fusion_command(config.commands.fix)

--- Give up on tracked requests: $/cancelRequest, and resolve them locally as cancelled
--- (Neovim drops the RequestCancelled answer, so their callbacks would never run).
local function abandon(pred)
  for id, req in pairs(state.inflight) do
    if pred(req, id) then
      state.inflight[id] = nil
      local c = vim.lsp.get_client_by_id(req.client_id)
      if c then
        c:cancel_request(id)
      end
      req.finish({ code = -32800, message = 'cancelled' }, nil)
    end
  end
end

--- A session-wide command (cancel, stats) on the buffer's client, else any fuse-ls
--- client. `args_for(bufnr)` builds its argument; `handle(err, result)` runs before the
--- caller's `opts.on_result`. Returns the buffer, nil when no server runs.
local function session_command(command, opts, args_for, handle)
  local bufnr, c = client.session(opts.bufnr)
  if not c then
    return nil
  end
  M.execute(command, args_for(bufnr), {
    bufnr = bufnr,
    client = c,
    on_result = function(err, result)
      handle(err, result)
      if opts.on_result then
        opts.on_result(err, result)
      end
    end,
  })
  return bufnr
end

--- Cancel the fusions of a buffer (or all with `all = true`). The server stops every model
--- stream and answers the running commands with `cancelled = true`; requests it has not
--- answered within `timeout_ms` (default 3000) are cancelled with $/cancelRequest.
--- @param opts? { bufnr?: integer, all?: boolean, on_result?: function, timeout_ms?: integer }
function M.cancel(opts)
  opts = opts or {}
  local uri
  local pending = {}
  local function matches(req)
    return opts.all or req.uri == uri
  end
  local function args_for(bufnr)
    uri = vim.uri_from_bufnr(bufnr)
    for id, req in pairs(state.inflight) do
      if matches(req) then
        pending[id] = true
      end
    end
    return opts.all and vim.empty_dict() or { uri = uri }
  end
  local sent = session_command(config.commands.cancel, opts, args_for, function(err, result)
    if not err and type(result) == 'table' then
      local n = tonumber(result.cancelled) or 0
      notify(('cancelled %d fusion%s'):format(n, n == 1 and '' or 's'))
    end
    if err then
      abandon(matches)
    end
  end)
  if not sent then
    return
  end
  vim.defer_fn(function()
    abandon(function(req, id)
      return matches(req) and pending[id] == true
    end)
  end, opts.timeout_ms or 3000)
end

--- Scopes of a change review (docs/protocol.md, fuse-ls.reviewChanges).
M.change_scopes = { 'uncommitted', 'staged', 'diff' }

--- Fused review of the workspace's git change: diagnostics on every changed file, the
--- findings in the quickfix list. Session-wide (`:FuseCancel!` cancels it).
--- @param opts? { scope?: 'uncommitted'|'staged'|'diff', base?: string, paths?: string[], bufnr?: integer, on_result?: function }
--- @return integer? request_id
function M.review_changes(opts)
  opts = opts or {}
  local bufnr, c = client.session(opts.bufnr)
  if not c then
    return nil
  end
  local args = vim.empty_dict()
  for _, k in ipairs({ 'scope', 'base', 'paths' }) do
    if opts[k] ~= nil then
      args[k] = opts[k]
    end
  end
  return M.execute(config.commands.review_changes, args, { bufnr = bufnr, client = c, on_result = opts.on_result })
end

--- The fuse-ls findings with a fix on a (0-based) line of a buffer.
--- @param bufnr integer
--- @param line integer
--- @return { id: string, message: string, lnum: integer }[]
function M.fixable_findings(bufnr, line)
  local found = {}
  for _, d in ipairs(vim.diagnostic.get(bufnr)) do
    local lsp = d.user_data and d.user_data.lsp or {}
    local data = lsp.data
    local last = d.end_lnum or d.lnum
    if d.source == 'fuse-ls' and type(data) == 'table' and type(data.findingId) == 'string'
      and type(data.fix) == 'table' and d.lnum <= line and line <= last then
      table.insert(found, { id = data.findingId, message = d.message, lnum = d.lnum })
    end
  end
  return found
end

--- Verify a finding's fix: the server runs verify.commands on it in an isolated copy, then
--- sends the fix as an edit whose preview says how the checks went (fix_preview asks
--- "apply it anyway?" after a failure). The finding is the one with a fix on the cursor's
--- line (several: vim.ui.select asks which).
--- @param opts? { bufnr?: integer, line?: integer, on_result?: function }
function M.verify_fix(opts)
  opts = opts or {}
  local bufnr = vim._resolve_bufnr(opts.bufnr or 0)
  local c = client.attached(bufnr)
  if not c then
    return nil
  end
  local line = opts.line or (vim.api.nvim_win_get_cursor(0)[1] - 1)
  local found = M.fixable_findings(bufnr, line)
  local function send(finding)
    notify("running the project's checks on the fix in an isolated copy…")
    local args = { uri = vim.uri_from_bufnr(bufnr), findingId = finding.id, apply = true }
    return M.execute(config.commands.verify_finding, args, { bufnr = bufnr, client = c, on_result = opts.on_result })
  end
  if #found == 0 then
    notify('no fuse-ls finding with a fix on this line', vim.log.levels.WARN)
    return nil
  elseif #found == 1 then
    return send(found[1])
  end
  vim.ui.select(found, {
    prompt = 'fuse-ls: verify which fix?',
    format_item = function(f)
      return ('%d: %s'):format(f.lnum + 1, (f.message:gsub('\n.*', '')))
    end,
  }, function(choice)
    if choice then
      send(choice)
    end
  end)
  return nil
end

--- The session statistics as lines (what :FuseStats shows).
--- @param s table  the fuse-ls.stats result
--- @return string[]
function M.format_stats(s)
  local lines = {
    ('fuse-ls session: %d fusion%s, $%.4f'):format(
      s.fusions or 0,
      s.fusions == 1 and '' or 's',
      tonumber(s.costUsd) or 0
    ),
  }
  local ids = vim.tbl_keys(s.models or {})
  table.sort(ids)
  for _, id in ipairs(ids) do
    local m = s.models[id]
    table.insert(
      lines,
      ('  %-36s calls %3d  failures %2d  $%.4f  tokens %d/%d  mean %.0f ms'):format(
        id,
        m.calls or 0,
        m.failures or 0,
        tonumber(m.costUsd) or 0,
        m.promptTokens or 0,
        m.completionTokens or 0,
        tonumber(m.meanLatencyMs) or 0
      )
    )
  end
  return lines
end

--- Session statistics (calls, failures, cost, tokens, latency per model).
--- @param opts? { bufnr?: integer, on_result?: function, silent?: boolean }
function M.stats(opts)
  opts = opts or {}
  session_command(config.commands.stats, opts, function()
    return vim.empty_dict()
  end, function(err, result)
    if not err and type(result) == 'table' and not opts.silent then
      vim.notify(table.concat(M.format_stats(result), '\n'), vim.log.levels.INFO)
    end
  end)
end

--- Client-side handler for a command carried by a code action picked from
--- vim.lsp.buf.code_action(): routed here, its result shows as with :Fuse*.
--- @param command string
function M.client_command(command)
  return function(cmd, ctx)
    local args = (cmd.arguments or {})[1] or {}
    local bufnr = ctx and ctx.bufnr or 0
    if args.uri then
      bufnr = vim.uri_to_bufnr(args.uri)
    end
    local c = ctx and ctx.client_id and vim.lsp.get_client_by_id(ctx.client_id) or nil
    M.execute(command, args, { bufnr = bufnr, client = c })
  end
end

return M
