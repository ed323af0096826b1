--- fuse-ls: :FuseReview, :FuseExplain, :FuseFix, :FuseVerifyFix, :FuseReviewChanges, :FuseCancel,
--- :FuseStats and keymaps.
local client = require('fuse_ls.client')
local commands = require('fuse_ls.commands')
local config = require('fuse_ls.config')
local range = require('fuse_ls.range')

local M = {}

local function on_range(fn)
  return function(cmdopts)
    local bufnr = vim.api.nvim_get_current_buf()
    local c = client.attached(bufnr)
    if not c then
      return
    end
    fn({ bufnr = bufnr, range = range.command(bufnr, cmdopts, c.offset_encoding or 'utf-16') })
  end
end

--- :FuseReviewChanges [uncommitted|staged|diff [BASE]]
function M.review_changes(cmdopts)
  local fargs = cmdopts.fargs or {}
  local scope, base = fargs[1], fargs[2]
  local usage = 'usage: :FuseReviewChanges [uncommitted|staged|diff [BASE]]'
  if scope ~= nil and not vim.list_contains(commands.change_scopes, scope) then
    client.notify(('unknown scope %q; %s'):format(scope, usage), vim.log.levels.ERROR)
    return
  end
  if #fargs > (scope == 'diff' and 2 or 1) then
    client.notify(usage, vim.log.levels.ERROR)
    return
  end
  commands.review_changes({ scope = scope, base = base })
end

--- Define the user commands (idempotent).
function M.create()
  local cmd = vim.api.nvim_create_user_command
  cmd('FuseReview', on_range(commands.review), {
    range = true,
    desc = 'fuse-ls: fused review of the selection (or the buffer)',
  })
  cmd('FuseExplain', on_range(commands.explain), {
    range = true,
    desc = 'fuse-ls: explain the selection with consensus',
  })
  cmd('FuseFix', on_range(commands.fix), {
    range = true,
    desc = 'fuse-ls: fused fix of the selection',
  })
  cmd('FuseVerifyFix', function()
    commands.verify_fix()
  end, { desc = "fuse-ls: run the project's checks on the fix of the finding on this line, then apply" })
  cmd('FuseCancel', function(o)
    commands.cancel({ all = o.bang })
  end, { bang = true, desc = 'fuse-ls: cancel the fusions of this buffer (! for all)' })
  cmd('FuseReviewChanges', M.review_changes, {
    nargs = '*',
    complete = function(_, line)
      local words = vim.split(vim.trim(line), '%s+')
      if #words <= 2 then
        return commands.change_scopes
      end
      return {}
    end,
    desc = 'fuse-ls: fused review of the git change (uncommitted, staged, or diff [BASE])',
  })
  cmd('FuseStats', function()
    commands.stats()
  end, { desc = 'fuse-ls: session statistics per model' })
end

--- Install keymaps: `true` for the suggested ones, or a table { review = '<lhs>', ... }.
--- @param maps boolean|table<string,string>
function M.set_keymaps(maps)
  if maps == true then
    maps = config.suggested_keymaps
  end
  if type(maps) ~= 'table' then
    return
  end
  local ranged = { review = 'FuseReview', explain = 'FuseExplain', fix = 'FuseFix' }
  local plain = { cancel = 'FuseCancel', stats = 'FuseStats', review_changes = 'FuseReviewChanges' }
  for what, lhs in pairs(maps) do
    if ranged[what] then
      vim.keymap.set('n', lhs, '<cmd>' .. ranged[what] .. '<cr>', { desc = 'fuse-ls: ' .. what .. ' buffer' })
      vim.keymap.set('x', lhs, ':' .. ranged[what] .. '<cr>', { desc = 'fuse-ls: ' .. what .. ' selection', silent = true })
    elseif plain[what] then
      vim.keymap.set('n', lhs, '<cmd>' .. plain[what] .. '<cr>', { desc = 'fuse-ls: ' .. what })
    end
  end
end

return M
