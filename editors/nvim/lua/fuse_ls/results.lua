--- fuse-ls: what the user is told when a command answers.
local client = require('fuse_ls.client')
local config = require('fuse_ls.config')
local explanation = require('fuse_ls.explanation')

local M = {}

local notify = client.notify

--- The result's notes (what the engine wants the user to know, as the CLI prints them).
--- @param result table
--- @return string[]
function M.notes(result)
  local out = {}
  for _, n in ipairs(type(result.notes) == 'table' and result.notes or {}) do
    if type(n) == 'string' and n ~= '' then
      table.insert(out, n)
    end
  end
  return out
end

--- Whether the result is degraded: the judge failed and it fell back to the votes, or
--- some pool models failed.
--- @param result table
--- @return boolean
function M.degraded(result)
  local judge = result.judge
  if type(judge) == 'table' and judge.status == 'error' then
    return true
  end
  return type(result.failed) == 'table' and #result.failed > 0
end

--- Notes that only say what the user's own filters hid (`# fuse-ls: ignore`, dismissals):
--- nothing went wrong, so they never make a result a warning.
local function only_hidden(notes)
  for _, n in ipairs(notes) do
    if not n:find('^not shown:') then
      return false
    end
  end
  return true
end

--- `summary` as INFO (unless `quiet`), or, with notes, as a WARN with one `note:` line
--- each (INFO when they only say what the user's filters hid); a degraded result says
--- so, and names the judge's error when no note does.
local function report(summary, result, quiet)
  local notes = M.notes(result)
  local degraded = M.degraded(result)
  if #notes == 0 and not degraded then
    if not quiet then
      notify(summary)
    end
    return
  end
  local lines = { summary .. (degraded and ' (degraded)' or '') }
  local judge = type(result.judge) == 'table' and result.judge or {}
  if judge.status == 'error' and #notes == 0 then
    table.insert(lines, ('note: judge %s failed: %s'):format(judge.model or '', judge.error or '?'))
  end
  for _, n in ipairs(notes) do
    table.insert(lines, 'note: ' .. n)
  end
  local level = (degraded or not only_hidden(notes)) and vim.log.levels.WARN or vim.log.levels.INFO
  notify(table.concat(lines, '\n'), level)
end

local QF_TYPE = { error = 'E', warning = 'W', info = 'I', information = 'I', hint = 'N' }

local function plural(n, word)
  return ('%d %s%s'):format(n, word, n == 1 and '' or 's')
end

--- A change review's findings as a quickfix list (not opened); returns how many.
local function changes_quickfix(result)
  local items = {}
  for _, f in ipairs(type(result.findings) == 'table' and result.findings or {}) do
    if type(f) == 'table' and type(f.uri) == 'string' then
      local start = type(f.range) == 'table' and f.range.start or {}
      table.insert(items, {
        filename = vim.uri_to_fname(f.uri),
        lnum = (tonumber(start.line) or 0) + 1,
        col = (tonumber(start.character) or 0) + 1,
        text = tostring(f.message or ''),
        type = QF_TYPE[tostring(f.severity or ''):lower()] or 'W',
      })
    end
  end
  vim.fn.setqflist({}, ' ', { title = 'fuse-ls: review of changes', items = items })
  return #items
end

--- What a change review says: findings in files, units (cached), calls; skipped files;
--- units that failed or a run that stopped early make it a warning.
function M.show_changes(result)
  local files = {}
  for _, f in ipairs(type(result.findings) == 'table' and result.findings or {}) do
    if type(f) == 'table' and f.uri then
      files[f.uri] = true
    end
  end
  local n = changes_quickfix(result)
  local lines = {
    ('change review finished: %s in %s (%s, %d cached, %s)%s'):format(
      plural(n, 'finding'),
      plural(vim.tbl_count(files), 'file'),
      plural(tonumber(result.units) or 0, 'unit'),
      tonumber(result.cached) or 0,
      plural(tonumber(result.calls) or 0, 'model call'),
      n > 0 and '; :copen lists them' or ''
    ),
  }
  local level = vim.log.levels.INFO
  for _, u in ipairs(type(result.failedUnits) == 'table' and result.failedUnits or {}) do
    level = vim.log.levels.WARN
    table.insert(lines, ('note: %s:%s failed: %s'):format(u.path or '?', u.startLine or '?', u.error or '?'))
  end
  if result.stopped then
    level = vim.log.levels.WARN
    table.insert(lines, 'note: stopped early: ' .. tostring(result.stopped))
  end
  for _, f in ipairs(type(result.skippedFiles) == 'table' and result.skippedFiles or {}) do
    table.insert(lines, ('skipped %s: %s'):format(f.path or '?', f.reason or '?'))
  end
  notify(table.concat(lines, '\n'), level)
end

--- How a finding's fix fared: checked (and, with `apply`, applied or not, and why).
--- @param result table  the fuse-ls.verifyFinding answer
function M.show_verified(result)
  local checks = type(result.checks) == 'table' and result.checks or {}
  local summary = type(checks.summary) == 'string' and checks.summary or 'no checks ran'
  if result.applied then
    notify('fix applied (' .. summary .. ')')
  elseif result.applied == false then
    local why = type(result.reason) == 'string' and result.reason or summary
    notify('fix not applied: ' .. why, vim.log.levels.WARN)
  elseif checks.passed then
    notify("the fix's " .. summary)
  else
    local failing = type(checks.failingLines) == 'string' and ('\n' .. checks.failingLines) or ''
    notify(summary .. failing, vim.log.levels.WARN)
  end
end

--- Tell the user how a command ended (and show an explanation).
--- @param command string
--- @param err? lsp.ResponseError
--- @param result any
function M.show(command, err, result)
  if err then
    if err.code == -32800 then -- RequestCancelled
      notify('cancelled')
    else
      notify(('%s failed: %s'):format(command, err.message or vim.inspect(err)), vim.log.levels.ERROR)
    end
    return
  end
  if type(result) ~= 'table' then
    return
  end
  local c = config.commands
  if command == c.verify_finding then
    M.show_verified(result)
    return
  end
  if command ~= c.review and command ~= c.explain and command ~= c.fix and command ~= c.review_changes then
    return
  end
  if result.cancelled then
    notify('cancelled')
    return
  end
  if result.error then
    -- The fusion failed as a whole: the server has shown why (window/showMessage).
    return
  end
  if command == c.review_changes then
    M.show_changes(result)
  elseif command == c.explain then
    explanation.show_result(result)
    report('explanation ready', result, true)
  elseif command == c.review then
    local n = type(result.findings) == 'table' and #result.findings or 0
    report(('review finished: %d finding%s'):format(n, n == 1 and '' or 's'), result)
  elseif result.applied then
    report('fused fix applied', result)
  else
    local why = type(result.reason) == 'string' and (': ' .. result.reason) or ''
    notify('fused fix not applied' .. why, vim.log.levels.WARN)
  end
end

return M
