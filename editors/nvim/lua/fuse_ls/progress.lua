--- fuse-ls: work-done progress, fuse/modelStatus and fuse/fusionStatus, statusline.
local client = require('fuse_ls.client')
local config = require('fuse_ls.config')
local state = require('fuse_ls.state')

local M = {}

local function finished(st)
  return st == 'finished' or st == 'failed' or st == 'cancelled'
end

--- fuse/modelStatus: one model's state in one fusion (User FuseLsModelStatus).
function M.model_status_handler(_, params)
  if type(params) ~= 'table' or not params.fusionId then
    return
  end
  local fm = state.models[params.fusionId] or {}
  fm[('%s#%s'):format(params.model or '?', params.index or 0)] = params
  state.models[params.fusionId] = fm
  if config.options.model_status then
    local extra = ''
    if params.latencyMs then
      extra = (' %.1fs'):format(params.latencyMs / 1000)
    end
    if params.error then
      extra = extra .. ' ' .. tostring(params.error)
    end
    client.echo(('%s %s %s%s'):format(params.task or '', params.model or '?', params.state or '', extra))
  end
  vim.api.nvim_exec_autocmds('User', { pattern = 'FuseLsModelStatus', modeline = false, data = params })
end

--- fuse/fusionStatus: a fusion's state and the session cost (User FuseLsFusionStatus).
function M.fusion_status_handler(_, params)
  if type(params) ~= 'table' or not params.fusionId then
    return
  end
  state.fusions[params.fusionId] = params
  if type(params.sessionCostUsd) == 'number' then
    state.session_cost_usd = params.sessionCostUsd
  end
  if finished(params.state) then
    state.models[params.fusionId] = nil
  end
  vim.api.nvim_exec_autocmds('User', { pattern = 'FuseLsFusionStatus', modeline = false, data = params })
end

--- Short status for a statusline: '' when idle, e.g. 'fuse-ls 2/3' while a fusion runs.
function M.statusline()
  local running, done, total = 0, 0, 0
  for id, f in pairs(state.fusions) do
    if f.state == 'started' or f.state == 'judging' then
      running = running + 1
      for _, m in pairs(state.models[id] or {}) do
        total = total + 1
        if finished(m.state) then
          done = done + 1
        end
      end
    end
  end
  if running == 0 then
    return ''
  end
  if total > 0 then
    return ('fuse-ls %d/%d'):format(done, total)
  end
  return 'fuse-ls …'
end

--- Echo fuse-ls's LspProgress (option `progress`); installed once, on first require.
local augroup = vim.api.nvim_create_augroup('fuse_ls.progress', { clear = true })
vim.api.nvim_create_autocmd('LspProgress', {
  group = augroup,
  callback = function(args)
    if not config.options.progress then
      return
    end
    local c = vim.lsp.get_client_by_id(args.data.client_id)
    if not c or c.name ~= config.name then
      return
    end
    local value = args.data.params and args.data.params.value or {}
    local title = (value.title or ''):gsub('^fuse%-ls:%s*', '')
    local text = title
    if value.message then
      text = text .. ': ' .. value.message
    end
    if value.percentage and value.kind ~= 'end' then
      text = ('%s (%d%%)'):format(text, value.percentage)
    end
    client.echo(text)
  end,
})

return M
