--- fuse-ls: what the user is told when a command answers.
local client = require('fuse_ls.client')
local config = require('fuse_ls.config')
local explanation = require('fuse_ls.explanation')

local M = {}

local notify = client.notify

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
  if command == c.explain then
    explanation.show_result(result)
  elseif command == c.review then
    local n = type(result.findings) == 'table' and #result.findings or 0
    notify(('review finished: %d finding%s'):format(n, n == 1 and '' or 's'))
  elseif result.applied then
    notify('fused fix applied')
  else
    notify('fused fix not applied', vim.log.levels.WARN)
  end
end

return M
