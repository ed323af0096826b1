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

--- `summary` as INFO (unless `quiet`), or, with notes, as a WARN with one `note:` line
--- each; a degraded result says so, and names the judge's error when no note does.
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
  notify(table.concat(lines, '\n'), vim.log.levels.WARN)
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
  if command ~= c.review and command ~= c.explain and command ~= c.fix then
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
  if command == c.explain then
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
